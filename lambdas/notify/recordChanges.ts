import type { ChangeEvent } from '../shared/events/ChangeEvent.ts';
import type { ChangePublisher } from '../shared/events/ChangePublisher.ts';
import { fitForTransport } from '../shared/events/fitForTransport.ts';
import type { EventLog } from '../shared/eventlog/EventLog.ts';
import { PublishFailedError } from '../shared/errors/index.ts';
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
 * the delivery, so a retried delivery finds the event recorded the first time (same
 * sequence) and publishes it under the same deduplication id. If publishing fails, the
 * event stays in the log marked unpublished: the host is told to retry (503), and the
 * scheduled republisher publishes it if the host never does.
 */
export async function recordChanges(deps: RecordDependencies, webhook: VerifiedWebhook): Promise<RecordedChanges> {
  const receivedAt = deps.now().toISOString();
  const events: RecordedChanges['events'][number][] = [];
  for (const [index, draft] of webhook.drafts.entries()) {
    const eventId = `${webhook.source}:${webhook.deliveryId}:${index}`;
    const recorded = await deps.eventLog.record(draft.repository, eventId, receivedAt, (sequence) =>
      fitForTransport<ChangeEvent>({
        ...draft,
        version: 1,
        eventId,
        deliveryId: webhook.deliveryId,
        source: webhook.source,
        sequence,
        receivedAt,
      }),
    );
    const { event } = recorded;
    let messageId: string | undefined;
    if (!recorded.published) {
      try {
        messageId = await deps.publisher.publish(event);
      } catch (cause) {
        throw new PublishFailedError('the change is recorded but could not be published yet; retry the delivery', {
          cause,
          data: { repository: event.repository, sequence: event.sequence },
        });
      }
      await deps.eventLog.markPublished(event);
    }
    events.push({ repository: event.repository, sequence: event.sequence, kind: event.kind, ...(messageId ? { messageId } : {}) });
  }
  return { deliveryId: webhook.deliveryId, events };
}
