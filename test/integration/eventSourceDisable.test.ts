import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { randomBytes } from 'node:crypto';
import { SqsEventSourcePoller } from '../../bin/local/SqsEventSourcePoller.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { eventually } from '../helpers/eventually.ts';

const VISIBILITY_SECONDS = 900;

/**
 * Disabling a mapping (what `git-geo pause` does) while its poller waits in a long poll: in AWS
 * a batch Lambda has received is still processed. The local poller once aborted the receive, and
 * a message the queue handed to it stayed invisible for the whole visibility timeout, holding its
 * FIFO group: a resumed region then did not take a held event for 15 minutes.
 */
describe('a disabled event source mapping', () => {
  let sqs: SQSClient;
  let queueUrl: string;
  const processed: string[] = [];
  const errors: unknown[] = [];
  const pollerFor = (): SqsEventSourcePoller =>
    new SqsEventSourcePoller(
      { functionName: 'recorder', queueUrl, queueArn: 'arn:aws:sqs:eu-west-1:123456789012:disable.fifo', region: 'eu-west-1', batchSize: 10, reportBatchItemFailures: true, maxConcurrency: 1, enabled: true },
      sqs,
      {
        invoke: (event: unknown): Promise<unknown> => {
          for (const record of (event as SQSEvent).Records) processed.push(record.body);
          return Promise.resolve({ batchItemFailures: [] });
        },
      },
      (error) => void errors.push(error),
    );

  beforeAll(async () => {
    sqs = new SQSClient(clientConfig('eu-west-1', process.env.AWS_ENDPOINT_URL));
    const name = `disable-${randomBytes(4).toString('hex')}.fifo`;
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: 'true', VisibilityTimeout: String(VISIBILITY_SECONDS) } }))).QueueUrl!;
  });
  afterAll(() => sqs?.destroy());

  it('still processes what its last long poll received, so nothing is left invisible when it is enabled again', async () => {
    const send = async (body: string): Promise<unknown> =>
      await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body, MessageGroupId: 'one-repository', MessageDeduplicationId: body }));
    const first = pollerFor();
    first.start();
    await send('before');
    await eventually(() => Promise.resolve(processed.includes('before') ? true : undefined), { timeoutMs: 30_000 });
    // The poller is now idle in a long poll; a message sent as the mapping is disabled is handed to it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopping = first.stop();
    await send('during the stop');
    await stopping;

    const second = pollerFor();
    second.start();
    await send('after');
    try {
      await eventually(() => Promise.resolve(processed.includes('after') ? true : undefined), {
        timeoutMs: 30_000,
        describe: async () => JSON.stringify({ processed, queue: await queueCounts() }),
      });
    } finally {
      await second.stop();
    }
    expect(processed).toEqual(['before', 'during the stop', 'after']);
    expect(await queueCounts()).toEqual({ visible: 0, invisible: 0 });
    expect(errors).toEqual([]);
  });

  async function queueCounts(): Promise<{ visible: number; invisible: number }> {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    return { visible: Number(Attributes?.ApproximateNumberOfMessages), invisible: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
  }
});
