import { createHash } from 'node:crypto';
import { SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { GeoError } from '../shared/errors/index.ts';

/**
 * The region's dead-letter queue, for messages that failed permanently (repository gone, access
 * denied, a malformed message): they leave the main queue at once instead of looping until
 * maxReceiveCount, and `git-geo redrive` replays them once an operator has fixed the cause.
 * The message keeps its body, group and attributes; the error's code and message are added.
 */
export class DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  async send(record: SQSRecord, error: unknown): Promise<void> {
    const cause = error instanceof GeoError && error.cause instanceof GeoError ? error.cause : error;
    const code = cause instanceof GeoError ? cause.code : 'ERR_INTERNAL';
    const message = cause instanceof Error ? cause.message : String(cause);
    const attributes: Record<string, MessageAttributeValue> = {};
    for (const [name, value] of Object.entries(record.messageAttributes ?? {})) {
      if (value.stringValue !== undefined) attributes[name] = { DataType: value.dataType, StringValue: value.stringValue };
    }
    attributes.errorCode = { DataType: 'String', StringValue: code };
    attributes.errorMessage = { DataType: 'String', StringValue: message.slice(0, 1000) || code };
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: record.body,
        MessageGroupId: record.attributes.MessageGroupId ?? 'unknown',
        // Stable per message: a retry after a crash does not dead-letter it twice.
        MessageDeduplicationId: createHash('sha256').update(`dead-letter:${record.messageId}`).digest('hex'),
        MessageAttributes: attributes,
      }),
    );
  }
}
