import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { git } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { functionScope, LIST_OPERATIONS, RequestCounter } from '../../bench/RequestCounter.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

/**
 * What one incremental sync costs, counted on the functions' real SDK clients through the
 * handlers' clientPlugins hook: at most 8 S3 requests per region, no LIST, and three
 * DynamoDB requests (read the registry, record started, record synced), plus at most one read of
 * the primary override (`git-geo promote`), which a function reads once per primaryOverrideCacheSeconds.
 */
describe('cost of an incremental sync, counted on the real clients', () => {
  let bed: TestBed;
  const counter = new RequestCounter();
  const repository = parseRepositoryPath('cost/service');

  beforeAll(async () => {
    bed = await startTestBed({ clientPlugins: (fn) => [counter.plugin(functionScope(fn))] });
    await bed.createRepository(repository);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('takes at most 8 S3 requests and no LIST per region, and 3 DynamoDB requests', async () => {
    const work = await bed.workingCopy(repository);
    await commit(work, 3, 'initial');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 60_000 });

    counter.reset();
    await commit(work, 1, 'incremental');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 60_000, minSequence: 2 });

    const counts = counter.snapshot();
    const regions = Object.keys(bed.runtime.regions);
    for (const region of regions) {
      const s3 = counts[`sync@${region}`]?.S3 ?? {};
      const requests = Object.values(s3).reduce((total, count) => total + count.requests, 0);
      expect(requests).toBeGreaterThan(0);
      expect(requests).toBeLessThanOrEqual(8);
      expect(Object.keys(s3).filter((operation) => LIST_OPERATIONS.has(operation))).toEqual([]);
      expect(s3.PutObject?.bytesSent).toBeGreaterThan(0);
      const dynamo = counts[`sync@${region}`]?.DynamoDB ?? {};
      const byOperation = Object.fromEntries(Object.entries(dynamo).map(([operation, count]) => [operation, count.requests]));
      expect(Object.keys(byOperation).sort()).toEqual(['GetItem', 'UpdateItem']);
      expect(byOperation.UpdateItem).toBe(2);
      // The registry read, and the primary override's if its cache ran out since the last batch.
      expect(byOperation.GetItem).toBeGreaterThanOrEqual(1);
      expect(byOperation.GetItem).toBeLessThanOrEqual(2);
    }
    // The notify function's clients are counted under their own scope.
    expect(counts[`notify@${bed.runtime.primary.region}`]?.SNS?.Publish?.requests).toBe(1);
  });
});
