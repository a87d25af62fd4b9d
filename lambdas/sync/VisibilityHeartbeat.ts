import { ChangeMessageVisibilityBatchCommand, ChangeMessageVisibilityCommand, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Keeps a batch's messages invisible while their syncs run, so a long sync is never
 * picked up a second time, and sets a failed message's retry delay (the backoff).
 */
export class VisibilityHeartbeat {
  private readonly pending = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
    private readonly visibilitySeconds: number,
  ) {}

  start(records: readonly { messageId: string; receiptHandle: string }[]): void {
    for (const record of records) this.pending.set(record.messageId, record.receiptHandle);
    const intervalMs = Math.max(1000, (this.visibilitySeconds * 1000) / 3);
    this.timer = setInterval(() => void this.extend(), intervalMs);
    this.timer.unref();
  }

  finished(messageId: string): void {
    this.pending.delete(messageId);
  }

  /** The message comes back after `delaySeconds` instead of the queue's default. */
  async retryAfter(messageId: string, delaySeconds: number): Promise<void> {
    const receiptHandle = this.pending.get(messageId);
    this.pending.delete(messageId);
    if (receiptHandle === undefined) return;
    await this.sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receiptHandle, VisibilityTimeout: delaySeconds }),
    );
  }

  /**
   * `record` comes back after `delaySeconds`, and so do the records after it in the same message
   * group: FIFO batch processing skips them, and they would otherwise wait out the whole visibility timeout.
   */
  async retryGroupAfter(
    records: readonly { messageId: string; attributes: { MessageGroupId?: string } }[],
    record: { messageId: string; attributes: { MessageGroupId?: string } },
    delaySeconds: number,
  ): Promise<void> {
    const group = record.attributes.MessageGroupId;
    const index = records.indexOf(record);
    const later = records.filter((other, at) => at > index && group !== undefined && other.attributes.MessageGroupId === group);
    await Promise.all([record, ...later].map((member) => this.retryAfter(member.messageId, delaySeconds)));
  }

  stop(): void {
    clearInterval(this.timer);
    this.pending.clear();
  }

  private async extend(): Promise<void> {
    const entries = [...this.pending].slice(0, 10).map(([Id, ReceiptHandle]) => ({
      Id,
      ReceiptHandle,
      VisibilityTimeout: this.visibilitySeconds,
    }));
    if (entries.length === 0) return;
    try {
      await this.sqs.send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
    } catch {
      // Best effort: if it fails, the message may be retried early, and the sync is idempotent.
    }
  }
}
