import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { main } from '../../bin/cli.ts';
import { git } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { regionStatus } from '../../bin/ops/regionStatus.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { VerifyResult } from '../../lambdas/verify/createVerifyHandler.ts';
import { eventually } from '../helpers/eventually.ts';
import { targetRuntime } from '../helpers/localTarget.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const REGION = 'eu-west-1';

describe('git-geo pause / resume: events wait on the queue while paused, and drain on resume', () => {
  let bed: TestBed;
  const repository = parseRepositoryPath('pause/busy');

  beforeAll(async () => {
    bed = await startTestBed({ config: { secondaryRegions: [REGION] } });
    await bed.createRepository(repository);
  }, 120_000);
  afterAll(async () => {
    await bed?.stop();
  });

  const queueDepth = async (url: string): Promise<number> => {
    const { Attributes = {} } = await bed.runtime.clients
      .region(REGION)
      .sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
  };

  it('pause, 50 pushes, resume: nothing is synced while paused, nothing is dead-lettered, and the region converges', async () => {
    const work = await bed.workingCopy(repository);
    await commit(work, 1, 'before');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    await bed.notifyPushes();
    const before = (await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, regions: [REGION], timeoutMs: 90_000 })).get(REGION)!;
    const target = await targetRuntime(bed.runtime);
    const info = bed.runtime.regions[REGION]!;

    await main(['node', 'git-geo', 'pause', '--region', REGION]);
    const resources = await target.region(REGION);
    expect((await regionStatus(resources)).control.paused).toBe(true);

    for (let push = 0; push < 50; push++) {
      await commit(work, 1, `paused-${push}`);
      await git(['push', '-q', 'origin', 'main'], { cwd: work });
    }
    const statuses = await bed.notifyPushes();
    expect(statuses).toHaveLength(50);
    expect(statuses.every((status) => status === 202)).toBe(true);
    // Every event reached the region's queue, and waits there.
    await eventually(async () => ((await queueDepth(info.queueUrl)) >= 50 ? true : undefined), { timeoutMs: 60_000, describe: async () => `depth ${await queueDepth(info.queueUrl)}` });
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const paused = (await bed.runtime.registry(REGION).get(repository))!;
    expect(paused.syncedSequence).toBe(before.syncedSequence);
    expect(paused.refsChecksum).toBe(before.refsChecksum);
    expect(await queueDepth(info.queueUrl)).toBe(50);
    expect(await queueDepth(info.deadLetterQueueUrl)).toBe(0);
    // The verifier and the watchdog hold too: their schedules would queue syncs the pause holds back.
    const verifyArn = bed.runtime.lambdas.find((lambda) => lambda.name === info.verifyFunctionName)!.fn.arn;
    for (const action of ['verify', 'watchdog'] as const) {
      const rule = bed.runtime.scheduler.ruleTargeting(verifyArn, { action })!;
      const [result] = (await bed.runtime.scheduler.fire(rule)) as VerifyResult[];
      expect(result).toEqual(expect.objectContaining({ action, skipped: 'paused' }));
    }
    expect(await queueDepth(info.queueUrl)).toBe(50);

    await main(['node', 'git-geo', 'resume', '--region', REGION]);
    // Every one of the 50 events is processed (most covered by the first sync after resume), none lost.
    const after = (
      await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, regions: [REGION], timeoutMs: 120_000, minSequence: before.syncedSequence! + 50 })
    ).get(REGION)!;
    expect(after.syncedSequence).toBeGreaterThanOrEqual(before.syncedSequence! + 50);
    expect(after.refs?.['refs/heads/main']).toBe((await git(['rev-parse', 'HEAD'], { cwd: work })).trim());
    await eventually(async () => ((await queueDepth(info.queueUrl)) === 0 ? true : undefined), { timeoutMs: 60_000 });
    expect(await queueDepth(info.deadLetterQueueUrl)).toBe(0);
    expect((await regionStatus(resources)).control.paused).toBe(false);
  }, 300_000);
});
