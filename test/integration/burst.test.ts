import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { git } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { DEFAULT_MIN_SYNC_INTERVAL_SECONDS } from '../../cdk/GeoConfig.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { expectMirrorsMatchPrimary, fetchesOf } from '../helpers/mirrorChecks.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';

const PUSHES = 50;
const REPOSITORIES = 20;

/**
 * A burst: 50 pushes to one repository, each followed by its webhook as a host sends it, while 20
 * other repositories are pushed to in parallel. Everything converges, and the hot repository costs
 * far fewer fetches than pushes: a sync fetches the primary's current state, and events it
 * already covers finish without a fetch.
 */
describe('a burst of pushes', () => {
  let bed: TestBed;

  beforeAll(async () => {
    // The production default: one read of the primary per repository per 5 s at most.
    bed = await startTestBed({ config: { minSyncIntervalSeconds: DEFAULT_MIN_SYNC_INTERVAL_SECONDS } });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  /** Pushes one commit and sends its webhook at once, as GitLab does after a push lands. */
  async function pushAndNotify(path: RepositoryPath, work: string, label: string): Promise<number> {
    await commit(work, 1, label);
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    const update = bed.pushes.filter((push) => push.repository === path).at(-1)!.updates[0]!;
    const response = await sendWebhook(bed.runtime.webhookUrl, gitlabPushHook({ primaryUrl: bed.primary.url, repository: path, update, token: WEBHOOK_SECRET }));
    expect(response.status).toBe(202);
    return (response.body.events as { sequence: number }[])[0]!.sequence;
  }

  it(`${PUSHES} pushes to one repository and ${REPOSITORIES} repositories in parallel converge; the hot one costs well under 0.5 fetches per push`, async () => {
    const regions = Object.keys(bed.runtime.regions);
    const hot = parseRepositoryPath('burst/hot');
    await bed.createRepository(hot);
    const hotWork = await bed.workingCopy(hot);
    const others = Array.from({ length: REPOSITORIES }, (_, i) => parseRepositoryPath(`burst/repo-${String(i + 1).padStart(2, '0')}`));
    const otherWork = new Map<RepositoryPath, string>();
    await Promise.all(
      others.map(async (path) => {
        await bed.createRepository(path);
        otherWork.set(path, await bed.workingCopy(path));
      }),
    );

    const [hotSequences, otherSequences] = await Promise.all([
      (async () => {
        const sequences: number[] = [];
        for (let i = 0; i < PUSHES; i++) sequences.push(await pushAndNotify(hot, hotWork, `hot-${i}`));
        return sequences;
      })(),
      Promise.all(others.map((path) => pushAndNotify(path, otherWork.get(path)!, path.replace('/', '-')))),
    ]);
    expect(hotSequences).toEqual(Array.from({ length: PUSHES }, (_, i) => i + 1));

    await waitForConvergence({ runtime: bed.runtime, repository: hot, primaryUrl: bed.primary.url, minSequence: PUSHES, timeoutMs: 120_000 });
    await Promise.all(
      others.map((path, i) => waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, minSequence: otherSequences[i]!, timeoutMs: 120_000 })),
    );
    await expectMirrorsMatchPrimary(regions.map((region) => bed.runtime.mirrors(region)), hot, bed.primary.url, bed.root);

    const hotFetches = fetchesOf(bed.primary.requests, hot).length;
    const perPush = hotFetches / (PUSHES * regions.length);
    process.stdout.write(`burst: ${hotFetches} fetches for ${PUSHES} pushes in ${regions.length} regions = ${perPush.toFixed(2)} per push per region\n`);
    expect(hotFetches).toBeGreaterThanOrEqual(regions.length);
    expect(perPush).toBeLessThan(0.5);
    // Each of the other repositories: one push, one fetch per region.
    for (const path of others) expect(fetchesOf(bed.primary.requests, path)).toHaveLength(regions.length);
  }, 400_000);
});
