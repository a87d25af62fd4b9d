import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { git } from '../../bin/local/git.ts';
import { LocalLambda } from '../../bin/local/LocalLambda.ts';
import type { LocalFunction } from '../../bin/local/LocalResources.ts';
import { SqsEventSourcePoller } from '../../bin/local/SqsEventSourcePoller.ts';
import { PROJECT_ROOT } from '../../cdk/constructs/GeoFunction.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { eventually } from '../helpers/eventually.ts';
import { commit } from '../helpers/testRuntime.ts';
import { primaryRepository, startSyncHarness, type SyncHarness } from '../helpers/syncHarness.ts';

// The heartbeat extends every third of the visibility timeout, but at most once a second: at 3 s,
// a third, as deployed (at 2 s an extension was due every half, and a loaded emulator answering
// late let the message come back: seen once in a full run).
const VISIBILITY_SECONDS = 3;
const PRIMARY_DELAY_MS = 2500;

/**
 * A sync that runs longer than the queue's visibility timeout must not be picked up a second time
 * while it runs: the sync handler keeps extending the message's visibility. Two event source
 * pollers compete for one real FIFO queue (visibility 3 s); the primary answers each of the sync's
 * three requests after 2.5 s, so the sync takes more than twice the visibility timeout.
 */
describe('a message being worked on is never picked up twice at once', () => {
  let harness: SyncHarness;
  let sqs: SQSClient;
  let queueUrl: string;
  let pollers: SqsEventSourcePoller[] = [];
  let lambda: LocalLambda;
  const errors: unknown[] = [];

  beforeAll(async () => {
    harness = await startSyncHarness();
    sqs = new SQSClient(clientConfig('eu-west-1', process.env.AWS_ENDPOINT_URL));
    const suffix = randomBytes(4).toString('hex');
    const create = async (name: string, attributes: Record<string, string>): Promise<string> =>
      (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-${suffix}.fifo`, Attributes: { FifoQueue: 'true', ...attributes } }))).QueueUrl!;
    const deadLetterQueueUrl = await create('visibility-dlq', {});
    queueUrl = await create('visibility', { VisibilityTimeout: String(VISIBILITY_SECONDS) });
    const fn: LocalFunction = {
      logicalId: 'SyncUnderTest',
      stackName: 'visibility',
      region: 'eu-west-1',
      name: `sync-${suffix}`,
      arn: `arn:aws:lambda:eu-west-1:123456789012:function:sync-${suffix}`,
      environment: {
        REGISTRY_TABLE: harness.table,
        MIRROR_BUCKET: harness.bucket,
        QUEUE_URL: queueUrl,
        QUEUE_VISIBILITY_SECONDS: String(VISIBILITY_SECONDS),
        DEAD_LETTER_QUEUE_URL: deadLetterQueueUrl,
        GIT_GEO_SETTINGS: JSON.stringify({ primaryRegion: 'eu-west-1', primaryUrls: [harness.primary.url], primaryTimeoutSeconds: 10 }),
      },
      timeoutSeconds: 60,
      memoryMiB: 1024,
      factory: 'lambdas/sync/createSyncHandler.ts#createSyncHandler',
      urlPath: '/sync',
    };
    lambda = new LocalLambda(fn, { AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL! }, PROJECT_ROOT);
    await lambda.warm();
    pollers = [1, 2].map(
      () =>
        new SqsEventSourcePoller(
          { functionName: fn.name, queueUrl, queueArn: `arn:aws:sqs:eu-west-1:123456789012:visibility-${suffix}.fifo`, region: 'eu-west-1', batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 2, enabled: true },
          sqs,
          lambda,
          (error) => void errors.push(error),
        ),
    );
  });
  afterAll(async () => {
    await Promise.all(pollers.map((poller) => poller.stop()));
    harness?.primary.setFault(undefined);
    sqs?.destroy();
    await harness?.stop();
  });

  it('a sync lasting more than twice the visibility timeout runs once, and its message is deleted when it is done', async () => {
    const path = parseRepositoryPath('slow/primary');
    const work = await primaryRepository(harness, path);
    await commit(work, 3, 'slow');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    harness.primary.setFault({ delayMs: PRIMARY_DELAY_MS });
    const event = harness.event(path, 1);
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event), MessageGroupId: path, MessageDeduplicationId: event.eventId.replace(/[^A-Za-z0-9]/g, '-') }));
    const started = Date.now();
    for (const poller of pollers) poller.start();

    const state = await eventually(async () => {
      const current = await harness.registry.get(path);
      return current?.status === 'synced' ? current : undefined;
    });
    expect(Date.now() - started).toBeGreaterThan(2 * VISIBILITY_SECONDS * 1000);
    // Let any second delivery happen, if the message had become visible again.
    await new Promise((resolve) => setTimeout(resolve, (VISIBILITY_SECONDS + 1) * 1000));

    expect(lambda.invocationCount).toBe(1);
    const ours = harness.primary.requests.filter((request) => request.userAgent === 'git-geo' && request.path.startsWith(`/${path}.git/`));
    // One sync over protocol v2: the capability advertisement, ls-refs, then one fetch.
    expect(ours.map((request) => `${request.method} ${request.service}`)).toEqual(['GET git-upload-pack', 'POST git-upload-pack', 'POST git-upload-pack']);
    expect(state).toMatchObject({ attempts: 0, syncedSequence: 1 });
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    expect(Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible)).toBe(0);
    expect(errors).toEqual([]);
  });
});
