import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { createHash, randomUUID } from 'node:crypto';
import type { RepositoryState } from '../registry/RepositoryState.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import type { ChangeEvent } from './ChangeEvent.ts';
import { messageGroupId } from './ChangePublisher.ts';

/** Why git-geo asks a region to read a repository from the primary. */
export type SyncRequestReason = 'backfill' | 'verification-repair' | 'verification-behind' | 'stuck-sync' | 'selective-sync';

export interface SyncRequest {
  readonly repository: RepositoryPath;
  /** The registry's state, so the request carries the newest sequence the region knows (never moving it back). */
  readonly state?: RepositoryState | undefined;
  readonly reason: SyncRequestReason;
}

/** Whether an event is git-geo's own request for this reason (its event id says so). */
export const isRequestFor = (event: Pick<ChangeEvent, 'source' | 'eventId'>, reason: SyncRequestReason): boolean => event.source === 'git-geo' && event.eventId.startsWith(`git-geo-${reason}-`);

/** The sequence a request of git-geo's own carries: the newest the region has seen, 0 for a repository no event named. */
export function requestSequence(state: RepositoryState | undefined): number {
  return Math.max(state?.lastEventSequence ?? 0, state?.syncedSequence ?? 0);
}

/**
 * Puts git-geo's own sync requests on one region's queue, in the repository's message group
 * like any change event: they sync in order with the host's events, under the same lease,
 * retries and dead-letter queue, and they wait on the queue while the region is paused.
 * A request is covered only by a read of the primary made after it (see isCovered).
 */
export class SyncRequester {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Sends the requests in batches of ten; answers how many were sent. Throws when any is refused. */
  async request(requests: readonly SyncRequest[]): Promise<number> {
    for (let start = 0; start < requests.length; start += 10) {
      const entries = requests.slice(start, start + 10).map((request, index) => {
        const id = randomUUID();
        const receivedAt = this.now().toISOString();
        const event: ChangeEvent = {
          version: 1,
          eventId: `git-geo-${request.reason}-${id}`,
          deliveryId: id,
          source: 'git-geo',
          kind: 'sync.requested',
          repository: request.repository,
          changes: [],
          sequence: requestSequence(request.state),
          receivedAt,
        };
        return {
          Id: String(index),
          MessageBody: JSON.stringify(event),
          MessageGroupId: messageGroupId(request.repository),
          MessageDeduplicationId: createHash('sha256').update(event.eventId).digest('hex'),
          MessageAttributes: { reason: { DataType: 'String', StringValue: request.reason } },
        };
      });
      const { Failed = [] } = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
      if (Failed.length > 0) throw new Error(`the queue refused ${Failed.length} sync request(s): ${Failed[0]?.Code ?? ''} ${Failed[0]?.Message ?? ''}`);
    }
    return requests.length;
  }
}
