import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomUUID } from 'node:crypto';
import type { LocalRuntime } from '../../bin/local/startLocalRuntime.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { messageGroupId, topNamespace } from '../../lambdas/shared/events/ChangePublisher.ts';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';

/** The primary's event log of a local runtime. */
export function eventLogOf(runtime: LocalRuntime): EventLog {
  const db = DynamoDBDocumentClient.from(runtime.clients.region(runtime.primary.region).dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  return new EventLog(db, runtime.primary.eventLogTable);
}

/** Every event recorded for a repository, oldest first. */
export async function recordedEvents(runtime: LocalRuntime, repository: RepositoryPath): Promise<(ChangeEvent & { published: boolean })[]> {
  const events: (ChangeEvent & { published: boolean })[] = [];
  for await (const event of eventLogOf(runtime).events(repository)) events.push(event);
  return events;
}

/**
 * Puts a change event straight on a region's queue, as SNS would deliver it (same group and
 * attributes), under a fresh deduplication id unless one is given: a duplicate or late delivery.
 */
export async function sendToRegion(runtime: LocalRuntime, region: string, event: ChangeEvent, deduplicationId = randomUUID()): Promise<void> {
  const { published: _published, ...body } = event as ChangeEvent & { published?: boolean };
  await runtime.clients.region(region).sqs.send(
    new SendMessageCommand({
      QueueUrl: runtime.regions[region]!.queueUrl,
      MessageBody: JSON.stringify(body),
      MessageGroupId: messageGroupId(event.repository),
      MessageDeduplicationId: deduplicationId,
      MessageAttributes: {
        repository: { DataType: 'String', StringValue: event.repository },
        namespace: { DataType: 'String', StringValue: topNamespace(event.repository) },
        kind: { DataType: 'String', StringValue: event.kind },
      },
    }),
  );
}

/** Sync invocations so far, over every region. */
export function syncInvocations(runtime: LocalRuntime): number {
  return runtime.lambdas.filter((lambda) => lambda.fn.logicalId.startsWith('Sync')).reduce((sum, lambda) => sum + lambda.invocationCount, 0);
}
