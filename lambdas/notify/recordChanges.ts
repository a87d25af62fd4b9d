import type { ChangeEvent } from '../shared/events/ChangeEvent.ts';
import type { ChangePublisher } from '../shared/events/ChangePublisher.ts';
import type { EventLog } from '../shared/eventlog/EventLog.ts';
import type { VerifiedWebhook } from './parseWebhook.ts';

export interface RecordedChanges {
  readonly deliveryId: string;
  readonly events: readonly { repository: string; sequence: number; kind: string; messageId?: string }[];
}

export interface RecordDependencies {
  readonly eventLog: EventLog;
  readonly publisher: ChangePublisher;
  readonly now: () => Date;
}

/**
 * Records each change in the event log, then publishes it. The event id is derived from
 * the delivery, so a retry after a crash publishes under the same deduplication id.
 */
export async function recordChanges(deps: RecordDependencies, webhook: VerifiedWebhook): Promise<RecordedChanges> {
  const receivedAt = deps.now().toISOString();
  const events: RecordedChanges['events'][number][] = [];
  for (const [index, draft] of webhook.drafts.entries()) {
    const sequence = await deps.eventLog.nextSequence(draft.repository, receivedAt);
    const event: ChangeEvent = {
      ...draft,
      version: 1,
      eventId: `${webhook.source}:${webhook.deliveryId}:${index}`,
      deliveryId: webhook.deliveryId,
      source: webhook.source,
      sequence,
      receivedAt,
    };
    await deps.eventLog.append(event);
    const messageId = await deps.publisher.publish(event);
    await deps.eventLog.markPublished(event);
    events.push({ repository: event.repository, sequence, kind: event.kind, ...(messageId ? { messageId } : {}) });
  }
  return { deliveryId: webhook.deliveryId, events };
}
