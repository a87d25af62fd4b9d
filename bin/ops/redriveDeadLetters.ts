import { createHash } from 'node:crypto';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  ListDeadLetterSourceQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface RedriveOptions {
  readonly sqs: SQSClient;
  readonly deadLetterQueueUrl: string;
  /** Where the messages go back to; by default the queue whose redrive policy names the dead-letter queue. */
  readonly queueUrl?: string;
  /** Stop after this many messages. */
  readonly max?: number;
  /** List what would be moved (one batch: up to 10 messages, the first of each group), move nothing. */
  readonly dryRun?: boolean;
  readonly onMessage?: (message: RedrivenMessage) => void;
}

export interface RedrivenMessage {
  readonly messageId: string;
  readonly groupId: string | undefined;
  readonly errorCode: string | undefined;
  readonly errorMessage: string | undefined;
}

export interface RedriveResult {
  readonly queueUrl: string;
  readonly moved: number;
  readonly messages: readonly RedrivenMessage[];
}

/** Attributes git-geo added when it dead-lettered a message; they do not go back. */
const DEAD_LETTER_ATTRIBUTES = new Set(['errorCode', 'errorMessage']);

/** The queue whose redrive policy targets `deadLetterQueueUrl`. */
export async function sourceQueueOf(sqs: SQSClient, deadLetterQueueUrl: string): Promise<string> {
  const { queueUrls = [] } = await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: deadLetterQueueUrl }));
  if (queueUrls.length !== 1) {
    throw new Error(`expected exactly one queue redriving to ${deadLetterQueueUrl}, found ${queueUrls.length}; pass --queue-url`);
  }
  return queueUrls[0]!;
}

/**
 * Moves every message of a FIFO dead-letter queue back to its source queue, in order within each
 * message group: each is sent with its body, group and attributes, under a fresh deduplication id
 * derived from its own id (so a redrive interrupted and run again does not send it twice), and
 * deleted from the dead-letter queue only after the send succeeded. SQS's StartMessageMoveTask
 * would do the same for standard queues; for FIFO queues it keeps no group order, and emulators lack it.
 */
export async function redriveDeadLetters(options: RedriveOptions): Promise<RedriveResult> {
  const { sqs, deadLetterQueueUrl } = options;
  const queueUrl = options.queueUrl ?? (await sourceQueueOf(sqs, deadLetterQueueUrl));
  const max = options.max ?? Number.POSITIVE_INFINITY;
  const messages: RedrivenMessage[] = [];
  let moved = 0;
  while (messages.length < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: Math.min(10, max - messages.length),
        // Long enough to send them all; a dry run makes them visible again right after.
        VisibilityTimeout: 120,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['MessageGroupId'],
        MessageAttributeNames: ['All'],
      }),
    );
    if (Messages.length === 0) break;
    const done: Message[] = [];
    for (const message of Messages) {
      const summary: RedrivenMessage = {
        messageId: message.MessageId!,
        groupId: message.Attributes?.MessageGroupId,
        errorCode: message.MessageAttributes?.errorCode?.StringValue,
        errorMessage: message.MessageAttributes?.errorMessage?.StringValue,
      };
      messages.push(summary);
      options.onMessage?.(summary);
      if (options.dryRun) continue;
      const attributes: Record<string, MessageAttributeValue> = {};
      for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
        if (!DEAD_LETTER_ATTRIBUTES.has(name)) attributes[name] = { DataType: value.DataType, StringValue: value.StringValue, BinaryValue: value.BinaryValue };
      }
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: message.Body ?? '',
          MessageGroupId: summary.groupId ?? 'redriven',
          MessageDeduplicationId: createHash('sha256').update(`redrive:${summary.messageId}`).digest('hex'),
          ...(Object.keys(attributes).length > 0 ? { MessageAttributes: attributes } : {}),
        }),
      );
      done.push(message);
    }
    if (options.dryRun) {
      // FIFO returns a group's later messages only once its first ones are gone: list one batch, put it back.
      await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: deadLetterQueueUrl,
          Entries: Messages.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle!, VisibilityTimeout: 0 })),
        }),
      );
      break;
    }
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: deadLetterQueueUrl,
        Entries: done.map((message, index) => ({ Id: String(index), ReceiptHandle: message.ReceiptHandle! })),
      }),
    );
    moved += done.length;
  }
  return { queueUrl, moved, messages };
}
