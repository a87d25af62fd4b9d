import { createHash } from 'node:crypto';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { RepositoryPath } from '../repositoryPath.ts';
import type { ChangeEvent } from './ChangeEvent.ts';

const MAX_GROUP_ID = 128;

/** The FIFO message group of a repository: its path, or a hash of it when the path is too long. */
export function messageGroupId(repository: RepositoryPath): string {
  return repository.length <= MAX_GROUP_ID ? repository : createHash('sha256').update(repository).digest('hex');
}

/** The top-level namespace, which selective-sync filter policies match on. */
export function topNamespace(repository: RepositoryPath): string {
  return repository.split('/')[0] ?? repository;
}

/**
 * Publishes change events to the SNS FIFO topic: grouped by repository so each one
 * syncs in order, deduplicated by event id so a retried publish is delivered once.
 */
export class ChangePublisher {
  constructor(
    private readonly sns: SNSClient,
    readonly topicArn: string,
  ) {}

  async publish(event: ChangeEvent): Promise<string | undefined> {
    const { MessageId } = await this.sns.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Message: JSON.stringify(event),
        MessageGroupId: messageGroupId(event.repository),
        MessageDeduplicationId: createHash('sha256').update(event.eventId).digest('hex'),
        MessageAttributes: {
          repository: { DataType: 'String', StringValue: event.repository },
          namespace: { DataType: 'String', StringValue: topNamespace(event.repository) },
          kind: { DataType: 'String', StringValue: event.kind },
        },
      }),
    );
    return MessageId;
  }
}
