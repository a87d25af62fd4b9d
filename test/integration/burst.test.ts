import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { git } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { recordedEvents } from '../helpers/changeEvents.ts';
import { expectMirrorsMatchPrimary, fetchesOf } from '../helpers/mirrorChecks.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';

const PUSHES = 50;
const REPOSITORIES = 20;
const STREAM_PUSHES = 15;
const INTERVAL_SECONDS = 5;

/** Answers the sequence the webhook recorded. */
async function notify(bed: TestBed, repository: RepositoryPath, update: { ref: string; before: string; after: string }): Promise<number> {
  const request = gitlabPushHook({ primaryUrl: bed.primary.url, repository, update, token: WEBHOOK_SECRET });
  let response = await sendWebhook(bed.runtime.webhookUrl, request);
  // notify's back-pressure is a quick 503 (or 429 past maxEventsPerRepositoryPerSecond) with Retry-After;
  // a sender retries the same delivery (recorded once) when Retry-After says.
  for (let retry = 0; retry < 5 && (response.status === 503 || response.status === 429); retry++) {
    await new Promise((resolve) => setTimeout(resolve, (response.retryAfterSeconds ?? 1) * 1000));
    response = await sendWebhook(bed.runtime.webhookUrl, request);
  }
  expect(response.status).toBe(202);
  return (response.body.events as { sequence: number }[])[0]!.sequence;
}

/**
 * A burst: 50 pushes to one repository, back to back, each with its webhook sent as the push lands
 * (a host does not wait for one webhook's answer before the next push), while 20 other
 * repositories are pushed to in parallel. Everything converges, and with the default
 * configuration the hot repository costs far fewer fetches than pushes: a sync fetches the
 * primary's current state, and the events it already covers finish without a fetch.
 */
describe('a burst of pushes', () => {
  let bed: TestBed;

  beforeAll(async () => {
    bed = await startTestBed();
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it(`${PUSHES} pushes to one repository and ${REPOSITORIES} repositories in parallel converge; the hot one costs well under 0.5 fetches per push`, async () => {
    const regions = Object.keys(bed.runtime.regions);
    const hot = parseRepositoryPath('burst/hot');
    await bed.createRepository(hot);
    const hotWork = await bed.workingCopy(hot);
    // The burst's commits are made first, so the pushes come as fast as git can land them.
    const commits: string[] = [];
    for (let i = 0; i < PUSHES; i++) {
      await commit(hotWork, 1, `hot-${i}`);
      commits.push((await git(['rev-parse', 'HEAD'], { cwd: hotWork })).trim());
    }
    const others = Array.from({ length: REPOSITORIES }, (_, i) => parseRepositoryPath(`burst/repo-${String(i + 1).padStart(2, '0')}`));
    const otherWork = new Map<RepositoryPath, string>();
    await Promise.all(
      others.map(async (path) => {
        await bed.createRepository(path);
        otherWork.set(path, await bed.workingCopy(path));
      }),
    );

    const started = Date.now();
    const [hotSequences, otherSequences] = await Promise.all([
      (async () => {
        const webhooks: Promise<number>[] = [];
        let before = '0'.repeat(40);
        for (const after of commits) {
          // A real push (receive-pack), over the local transport: HTTP here costs a second of process spawns.
          await git(['push', '-q', join(bed.root, 'primary', `${hot}.git`), `${after}:refs/heads/main`], { cwd: hotWork });
          webhooks.push(notify(bed, hot, { ref: 'refs/heads/main', before, after }));
          before = after;
        }
        return Promise.all(webhooks);
      })(),
      Promise.all(
        others.map(async (path) => {
          const work = otherWork.get(path)!;
          await commit(work, 1, path.replace('/', '-'));
          await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
          return notify(bed, path, bed.pushes.filter((push) => push.repository === path).at(-1)!.updates[0]!);
        }),
      ),
    ]);
    const pushSeconds = (Date.now() - started) / 1000;
    // Each delivery recorded once, under its own sequence. A retry that races its first delivery's
    // recording (answered 503 at the deadline, still recording) may win with a later sequence; the
    // loser's sequence is then a gap (EventLog.record), so the numbers need not be 1..50.
    expect(new Set(hotSequences).size).toBe(PUSHES);
    const recorded = await recordedEvents(bed.runtime, hot);
    expect(recorded.map((event) => event.sequence).sort((a, b) => a - b)).toEqual([...hotSequences].sort((a, b) => a - b));
    expect(new Set(recorded.map((event) => event.deliveryId)).size).toBe(PUSHES);

    await waitForConvergence({ runtime: bed.runtime, repository: hot, primaryUrl: bed.primary.url, minSequence: Math.max(...hotSequences), timeoutMs: 120_000 });
    await Promise.all(
      others.map((path, i) => waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, minSequence: otherSequences[i]!, timeoutMs: 120_000 })),
    );
    await expectMirrorsMatchPrimary(regions.map((region) => bed.runtime.mirrors(region)), hot, bed.primary.url, bed.root);

    const hotFetches = fetchesOf(bed.primary.requests, hot).length;
    const perPush = hotFetches / (PUSHES * regions.length);
    process.stdout.write(`burst: ${PUSHES} pushes in ${pushSeconds.toFixed(1)} s, ${hotFetches} fetches in ${regions.length} regions = ${perPush.toFixed(2)} per push per region\n`);
    expect(hotFetches).toBeGreaterThanOrEqual(regions.length);
    expect(perPush).toBeLessThan(0.5);
    // Each of the other repositories: one push, one fetch per region.
    for (const path of others) expect(fetchesOf(bed.primary.requests, path)).toHaveLength(regions.length);
  }, 400_000);
});

/**
 * A steady stream, slower than a sync: by default each push gets its own sync (lowest lag).
 * `minSyncIntervalSeconds` trades lag for load on the primary: one read per interval at most.
 */
describe('minSyncIntervalSeconds', () => {
  let bed: TestBed;

  beforeAll(async () => {
    bed = await startTestBed({ config: { minSyncIntervalSeconds: INTERVAL_SECONDS } });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it(`coalesces a stream of ${STREAM_PUSHES} pushes, each awaited with its webhook, into about one fetch per ${INTERVAL_SECONDS} s`, async () => {
    const regions = Object.keys(bed.runtime.regions);
    const path = parseRepositoryPath('stream/hot');
    await bed.createRepository(path);
    const work = await bed.workingCopy(path);
    const started = Date.now();
    let last = 0;
    for (let i = 0; i < STREAM_PUSHES; i++) {
      await commit(work, 1, `stream-${i}`);
      await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
      last = await notify(bed, path, bed.pushes.filter((push) => push.repository === path).at(-1)!.updates[0]!);
    }
    const streamSeconds = (Date.now() - started) / 1000;
    await waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, minSequence: last, timeoutMs: 120_000 });
    await expectMirrorsMatchPrimary(regions.map((region) => bed.runtime.mirrors(region)), path, bed.primary.url, bed.root);

    const fetches = fetchesOf(bed.primary.requests, path).length;
    process.stdout.write(`stream: ${STREAM_PUSHES} pushes in ${streamSeconds.toFixed(1)} s, ${fetches} fetches in ${regions.length} regions (interval ${INTERVAL_SECONDS} s)\n`);
    // At most one per interval per region, plus the first and the last.
    expect(fetches).toBeLessThanOrEqual(regions.length * (Math.ceil(streamSeconds / INTERVAL_SECONDS) + 2));
    expect(fetches).toBeLessThan(regions.length * STREAM_PUSHES * 0.6);
  }, 400_000);
});
