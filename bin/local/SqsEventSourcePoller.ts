import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import type { LocalEventSource } from './LocalResources.ts';
import type { LocalLambda } from './LocalLambda.ts';

const MIN_IDLE_MS = 20;
const MAX_IDLE_MS = 200;
/** Long polls are short enough that a stop or a change of plan is never far off. */
const LONG_POLL_SECONDS = 2;
/** SQS's longest visibility timeout: a failed message is back (or in the DLQ) by then. */
const MAX_INVISIBLE_MS = 12 * 3600 * 1000;

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
 * the whole batch.
 *
 * When nothing it received is still in flight, it long-polls as Lambda's pollers do, so a
 * new message is taken the moment it arrives. Otherwise it short-polls with a short idle
 * back-off: moto's long poll spins while a FIFO group has a message in flight.
 */
export class SqsEventSourcePoller {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private abort = new AbortController();
  /** Messages that failed and are invisible until their retry, by id, with when they are back at the latest. */
  private readonly awaitingRetry = new Map<string, number>();
  batches = 0;

  constructor(
    readonly source: LocalEventSource,
    private readonly sqs: SQSClient,
    private readonly lambda: Pick<LocalLambda, 'invoke'>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts polling; after a stop, polling starts again (as re-enabling an event source mapping does). */
  start(): void {
    if (this.running || !this.source.enabled) return;
    if (this.abort.signal.aborted) this.abort = new AbortController();
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops polling. A long poll in flight is let finish and what it received is processed, as
   * Lambda does with a batch it has received when its mapping is disabled: aborting it would
   * leave a message the queue already handed out invisible for its whole visibility timeout,
   * holding its FIFO group. Only a shutdown of the whole runtime abandons it.
   */
  async stop(options: { abandonReceive?: boolean } = {}): Promise<void> {
    this.running = false;
    if (options.abandonReceive) this.abort.abort();
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
      const longPoll = this.inFlight.size === 0 && !this.hasMessagesAwaitingRetry();
      let failedToReceive = false;
      try {
        const response = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.source.queueUrl,
            MaxNumberOfMessages: this.source.batchSize,
            WaitTimeSeconds: longPoll ? LONG_POLL_SECONDS : 0,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = response.Messages ?? [];
      } catch (error) {
        if (!this.running) break;
        this.onError(error);
        failedToReceive = true;
      }
      for (const message of messages) this.awaitingRetry.delete(message.MessageId!);
      if (messages.length === 0) {
        if (longPoll && !failedToReceive) continue;
        await new Promise((resolve) => setTimeout(resolve, idleMs));
        idleMs = Math.min(MAX_IDLE_MS, idleMs * 2);
        continue;
      }
      idleMs = MIN_IDLE_MS;
      const batch = this.dispatch(messages).finally(() => this.inFlight.delete(batch));
      this.inFlight.add(batch);
    }
  }

  private hasMessagesAwaitingRetry(): boolean {
    const now = Date.now();
    for (const [id, until] of this.awaitingRetry) if (until < now) this.awaitingRetry.delete(id);
    return this.awaitingRetry.size > 0;
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
    for (const id of failed) this.awaitingRetry.set(id, Date.now() + MAX_INVISIBLE_MS);
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
