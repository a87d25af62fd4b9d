import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../bin/cli.ts';
import { git } from '../../bin/local/git.ts';
import { regionStatus } from '../../bin/ops/regionStatus.ts';
import { PRIMARY_REQUESTS_PER_SYNC } from '../../lambdas/backfill/runBackfill.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { eventually } from '../helpers/eventually.ts';
import { targetRuntime } from '../helpers/localTarget.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const REGION = 'eu-west-1';
const REPOSITORIES = 200;
/** Requests per second the backfill may cause the primary, and its burst. */
const RATE = 8;
const BURST = 4;
const SYNC_CONCURRENCY = 10;

describe('backfill: a new region fills itself from the primary, at a bounded rate', () => {
  let bed: TestBed;
  let startedAt: number;

  beforeAll(async () => {
    bed = await startTestBed({
      server: { gitlabApi: true },
      config: { secondaryRegions: [REGION], syncMaxConcurrency: SYNC_CONCURRENCY, backfill: { kind: 'gitlab', requestsPerSecond: RATE, burst: BURST } },
    });
    // 200 existing repositories (copies of one small repository), in two groups, before the region knew any.
    await bed.createRepository('template/base');
    const work = await bed.workingCopy('template/base');
    await commit(work, 2, 'base');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    const primaryRoot = join(bed.root, 'primary');
    for (let index = 0; index < REPOSITORIES - 1; index++) {
      const group = index % 2 === 0 ? 'apps' : 'libs';
      await cp(join(primaryRoot, 'template', 'base.git'), join(primaryRoot, group, `repo-${String(index).padStart(3, '0')}.git`), { recursive: true });
    }
    bed.pushes.splice(0);
    startedAt = Date.now();
  }, 180_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it('backfills all 200 repositories with nobody running a command, never faster than its token bucket allows', async () => {
    // The region's onboarding schedule (every minute) runs the backfill until its cursor says complete.
    const states = await eventually(
      async () => {
        const all: RepositoryState[] = [];
        for await (const state of bed.runtime.registry(REGION).list()) all.push(state);
        return all.length === REPOSITORIES && all.every((state) => state.status === 'synced') ? all : undefined;
      },
      {
        // At 8 requests/s and 3 per sync the backfill needs 75 s at least, after the schedule's first
        // tick (up to a minute); in a full run moto, shared by both workers, is slower than the bucket.
        timeoutMs: 480_000,
        intervalMs: 1000,
        describe: async () => {
          let count = 0;
          for await (const _state of bed.runtime.registry(REGION).list()) count++;
          return `${count} in the registry`;
        },
      },
    );
    expect(new Set(states.map((state) => state.repository)).size).toBe(REPOSITORIES);
    const resources = await (await targetRuntime(bed.runtime)).region(REGION);
    const status = await regionStatus(resources);
    expect(status.control.backfill).toEqual(expect.objectContaining({ state: 'complete', listed: REPOSITORIES, requested: REPOSITORIES, total: REPOSITORIES }));

    // Every request the backfill caused the primary: listing pages and the syncs' discoveries and fetches.
    const requests = bed.primary.requests.filter((request) => request.at >= startedAt && (request.userAgent === 'git-geo' || request.userAgent === 'git-geo-backfill'));
    const pages = requests.filter((request) => request.path === '/api/v4/projects');
    expect(pages).toHaveLength(2);
    expect(requests.length).toBeGreaterThanOrEqual(REPOSITORIES * PRIMARY_REQUESTS_PER_SYNC);
    // Over any window of W seconds: at most the bucket's burst plus W times its rate, with the
    // syncs the poller may hold at once as slack (a request runs when its sync does, not when it was paced).
    const times = requests.map((request) => request.at).sort((a, b) => a - b);
    const windowSeconds = 5;
    let busiest = 0;
    for (let start = 0, end = 0; end < times.length; end++) {
      while (times[end]! - times[start]! >= windowSeconds * 1000) start++;
      busiest = Math.max(busiest, end - start + 1);
    }
    const bound = BURST + RATE * windowSeconds + SYNC_CONCURRENCY * PRIMARY_REQUESTS_PER_SYNC;
    const overall = requests.length / ((times[times.length - 1]! - times[0]!) / 1000);
    process.stderr.write(`backfill: ${requests.length} primary requests in ${((times[times.length - 1]! - times[0]!) / 1000).toFixed(1)} s (${overall.toFixed(1)}/s overall); busiest ${windowSeconds} s window ${busiest} (bound ${bound})\n`);
    expect(busiest).toBeLessThanOrEqual(bound);
    expect(overall).toBeLessThanOrEqual(RATE * 1.05);
  }, 540_000);

  it('is idempotent: running it again asks the primary for nothing, and reports complete at 100 %', async () => {
    const before = bed.primary.requests.length;
    await targetRuntime(bed.runtime);
    await main(['node', 'git-geo', 'backfill', '--region', REGION]);
    expect(bed.primary.requests.slice(before).filter((request) => request.userAgent?.startsWith('git-geo') === true)).toEqual([]);
  }, 120_000);
});
