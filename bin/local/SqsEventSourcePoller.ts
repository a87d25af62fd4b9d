import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { LocalEventSource } from './LocalResources.ts';
import type { LocalLambda } from './LocalLambda.ts';

const MIN_IDLE_MS = 20;
const MAX_IDLE_MS = 200;

function toRecord(message: Message, source: LocalEventSource): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.SequenceNumber ? { SequenceNumber: attributes.SequenceNumber } : {}),
      ...(attributes.MessageGroupId ? { MessageGroupId: attributes.MessageGroupId } : {}),
      ...(attributes.MessageDeduplicationId ? { MessageDeduplicationId: attributes.MessageDeduplicationId } : {}),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          stringValue: value.StringValue,
          stringListValues: [],
          binaryListValues: [],
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: source.queueArn,
    awsRegion: source.region,
  };
}

/**
 * An SQS event source mapping run locally: receives batches of the template's batch size,
 * invokes the function with up to the template's maximum concurrency, and deletes what
 * succeeded. With ReportBatchItemFailures, the failed items stay on the queue until their
 * visibility timeout runs out (or whatever the function set it to); a thrown error fails
 * the whole batch. Short polls with a short idle back-off stand in for Lambda's pollers.
 */
export class SqsEventSourcePoller {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  batches = 0;

  constructor(
    readonly source: LocalEventSource,
    private readonly sqs: SQSClient,
    private readonly lambda: LocalLambda,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(): void {
    if (this.running || !this.source.enabled) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await this.loop;
    await Promise.allSettled([...this.inFlight]);
  }

  private async run(): Promise<void> {
    let idleMs = MIN_IDLE_MS;
    while (this.running) {
      if (this.inFlight.size >= this.source.maxConcurrency) {
        await Promise.race(this.inFlight);
        continue;
      }
      let messages: Message[] = [];
      try {
        const response = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.source.queueUrl,
            MaxNumberOfMessages: this.source.batchSize,
            WaitTimeSeconds: 0,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = response.Messages ?? [];
      } catch (error) {
        if (!this.running) break;
        this.onError(error);
      }
      if (messages.length === 0) {
        await new Promise((resolve) => setTimeout(resolve, idleMs));
        idleMs = Math.min(MAX_IDLE_MS, idleMs * 2);
        continue;
      }
      idleMs = MIN_IDLE_MS;
      const batch = this.dispatch(messages).finally(() => this.inFlight.delete(batch));
      this.inFlight.add(batch);
    }
  }

  private async dispatch(messages: Message[]): Promise<void> {
    this.batches++;
    const event: SQSEvent = { Records: messages.map((message) => toRecord(message, this.source)) };
    let failed: Set<string>;
    try {
      const response = (await this.lambda.invoke(event)) as { batchItemFailures?: { itemIdentifier: string }[] } | undefined;
      failed = this.source.reportBatchItemFailures
        ? new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier))
        : new Set();
    } catch (error) {
      this.onError(error);
      failed = new Set(messages.map((message) => message.MessageId!));
    }
    const succeeded = messages.filter((message) => !failed.has(message.MessageId!));
    if (succeeded.length === 0) return;
    try {
      await this.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.source.queueUrl,
          Entries: succeeded.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
        }),
      );
    } catch (error) {
      this.onError(error);
    }
  }
}
