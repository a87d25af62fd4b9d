import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { git } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook, type WebhookRequest } from '../../bin/local/gitlabPushHook.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import type { RepublishResult } from '../../lambdas/republish/republishPending.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { eventLogOf, recordedEvents } from '../helpers/changeEvents.ts';
import { eventually } from '../helpers/eventually.ts';
import { startAwsFaultProxy, type AwsFaultProxy } from '../helpers/startAwsFaultProxy.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';

/**
 * Once notify has recorded an event, it reaches every region even if SNS fails at that moment:
 * notify answers 202 as soon as the event is recorded and publishes after the answer; what it
 * could not publish stays unpublished in the log, a retried delivery publishes the same event
 * (same sequence), and the scheduled republisher publishes whatever is still unpublished.
 */
describe('nothing is lost when publishing fails after the event is recorded', () => {
  let proxy: AwsFaultProxy;
  let bed: TestBed;

  beforeAll(async () => {
    proxy = await startAwsFaultProxy(process.env.AWS_ENDPOINT_URL!);
    bed = await startTestBed({ awsEndpoint: proxy.endpoint, config: { republishAfterSeconds: 1 } });
  });
  afterAll(async () => {
    await bed?.stop();
    await proxy?.stop();
  });

  async function pushedHook(path: RepositoryPath): Promise<WebhookRequest> {
    await bed.createRepository(path);
    const work = await bed.workingCopy(path);
    await commit(work, 2, path.replaceAll('/', '-'));
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    const update = bed.pushes.at(-1)!.updates[0]!;
    return gitlabPushHook({ primaryUrl: bed.primary.url, repository: path, update, token: WEBHOOK_SECRET });
  }

  async function fireRepublisher(): Promise<RepublishResult> {
    const [result] = (await bed.runtime.scheduler.fire('RepublishSchedule')) as RepublishResult[];
    return result!;
  }

  it('SNS down: 202 to the host (recorded), the event stays recorded unpublished, and no region hears of it', async () => {
    const retried = parseRepositoryPath('lost/retried-by-host');
    const abandoned = parseRepositoryPath('lost/never-retried');
    const retriedHook = await pushedHook(retried);
    const abandonedHook = await pushedHook(abandoned);

    proxy.failPublish = true;
    const first = await sendWebhook(bed.runtime.webhookUrl, retriedHook);
    const second = await sendWebhook(bed.runtime.webhookUrl, abandonedHook);
    for (const response of [first, second]) {
      expect(response.status).toBe(202);
      expect(response.body.events).toEqual([expect.objectContaining({ sequence: 1 })]);
    }
    // Publishing runs after the answer, and fails.
    await eventually(() => Promise.resolve(proxy.refused >= 2 ? true : undefined), { timeoutMs: 30_000 });
    for (const path of [retried, abandoned]) {
      expect(await recordedEvents(bed.runtime, path)).toEqual([expect.objectContaining({ sequence: 1, published: false })]);
    }
    const pending: string[] = [];
    for await (const event of eventLogOf(bed.runtime).unpublished(new Date(Date.now() + 1000).toISOString())) pending.push(event.repository);
    expect(pending.sort()).toEqual([abandoned, retried].sort());
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const region of Object.keys(bed.runtime.regions)) {
      expect(await bed.runtime.registry(region).get(retried)).toBeUndefined();
      expect(await bed.runtime.registry(region).get(abandoned)).toBeUndefined();
    }

    // SNS is back. The host retries one delivery: the same event (sequence 1) is published, not a second one.
    proxy.failPublish = false;
    const retry = await sendWebhook(bed.runtime.webhookUrl, retriedHook);
    expect(retry.status).toBe(202);
    expect(retry.body.events).toEqual([expect.objectContaining({ repository: retried, sequence: 1 })]);
    await eventually(async () => ((await recordedEvents(bed.runtime, retried))[0]?.published ? true : undefined), { timeoutMs: 30_000 });
    expect(await recordedEvents(bed.runtime, retried)).toEqual([expect.objectContaining({ sequence: 1, published: true })]);
    await waitForConvergence({ runtime: bed.runtime, repository: retried, primaryUrl: bed.primary.url, minSequence: 1, timeoutMs: 60_000 });

    // The other host never retries: the scheduled republisher publishes its event.
    expect(await fireRepublisher()).toEqual({ published: 1, failed: 0 });
    await waitForConvergence({ runtime: bed.runtime, repository: abandoned, primaryUrl: bed.primary.url, minSequence: 1, timeoutMs: 60_000 });
    expect(await recordedEvents(bed.runtime, abandoned)).toEqual([expect.objectContaining({ sequence: 1, published: true })]);

    // Nothing is left, and another run publishes nothing twice.
    expect(await fireRepublisher()).toEqual({ published: 0, failed: 0 });
  });

  it('while SNS stays down the republisher keeps the event for its next run', async () => {
    const path = parseRepositoryPath('lost/outage');
    const hook = await pushedHook(path);
    proxy.failPublish = true;
    try {
      const refusedBefore = proxy.refused;
      expect((await sendWebhook(bed.runtime.webhookUrl, hook)).status).toBe(202);
      await eventually(() => Promise.resolve(proxy.refused > refusedBefore ? true : undefined), { timeoutMs: 30_000 });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const during = await fireRepublisher();
      expect(during).toMatchObject({ published: 0, failed: 1 });
    } finally {
      proxy.failPublish = false;
    }
    expect(await fireRepublisher()).toEqual({ published: 1, failed: 0 });
    await waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, minSequence: 1, timeoutMs: 60_000 });
  });
});
