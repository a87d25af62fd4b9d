import type { ChangeEvent } from '../shared/events/ChangeEvent.ts';
import type { ChangePublisher } from '../shared/events/ChangePublisher.ts';
import { fitForTransport } from '../shared/events/fitForTransport.ts';
import type { EventLog } from '../shared/eventlog/EventLog.ts';
import type { VerifiedWebhook } from './parseWebhook.ts';
import type { ReplayGuardSettings } from './replayGuard.ts';

export interface RecordedChanges {
  readonly deliveryId: string;
  readonly events: readonly { repository: string; sequence: number; kind: string }[];
  /** Recorded but not yet published: what publishRecorded does after the answer. */
  readonly unpublished: readonly ChangeEvent[];
  /** The delivery that first brought this signed content, when this one is a replay of it (nothing recorded). */
  readonly replayOf?: string;
}

/** The guard of a delivery's changes: its signed content's key (replayGuard.ts) and the settings. */
export interface DeliveryGuard extends ReplayGuardSettings {
  readonly contentKey: string;
}

export interface RecordDependencies {
  readonly eventLog: EventLog;
  readonly publisher: ChangePublisher;
  readonly now: () => Date;
}

/**
 * Records each change in the event log: one transactional write per change, and all the webhook's
 * answer waits for. The event id is derived from the delivery, so a retried delivery finds the
 * event recorded the first time (same sequence) instead of recording it twice. Publishing is
 * left to publishRecorded, after the answer.
 */
export async function recordChanges(deps: RecordDependencies, webhook: VerifiedWebhook, guard?: DeliveryGuard): Promise<RecordedChanges> {
  const receivedAt = deps.now().toISOString();
  const events: RecordedChanges['events'][number][] = [];
  const unpublished: ChangeEvent[] = [];
  let replayOf: string | undefined;
  for (const [index, draft] of webhook.drafts.entries()) {
    const eventId = `${webhook.source}:${webhook.deliveryId}:${index}`;
    const recorded = await deps.eventLog.record(
      draft.repository,
      eventId,
      receivedAt,
      (sequence) =>
        fitForTransport<ChangeEvent>({
          ...draft,
          version: 1,
          eventId,
          deliveryId: webhook.deliveryId,
          source: webhook.source,
          sequence,
          receivedAt,
        }),
      guard === undefined
        ? undefined
        : { contentKey: `${guard.contentKey}:${index}`, deliveryId: webhook.deliveryId, replayWindowSeconds: guard.replayWindowSeconds, maxPerSecond: guard.maxEventsPerRepositoryPerSecond },
    );
    const { event } = recorded;
    // A replay publishes nothing either: whatever its first delivery left unpublished, the republisher has.
    if (recorded.replayOf !== undefined) replayOf = recorded.replayOf;
    else if (!recorded.published) unpublished.push(event);
    events.push({ repository: event.repository, sequence: event.sequence, kind: event.kind });
  }
  return { deliveryId: webhook.deliveryId, events, unpublished, ...(replayOf === undefined ? {} : { replayOf }) };
}

/**
 * Publishes recorded events and marks them published, in order. An event that cannot be
 * published now stays unpublished in the log: the scheduled republisher publishes it (and a
 * retried delivery tries again). Answers the events left unpublished.
 */
export async function publishRecorded(deps: RecordDependencies, events: readonly ChangeEvent[], onError: (event: ChangeEvent, error: unknown) => void): Promise<number> {
  let failed = 0;
  for (const event of events) {
    try {
      await deps.publisher.publish(event);
      await deps.eventLog.markPublished(event);
    } catch (error) {
      failed++;
      onError(event, error);
    }
  }
  return failed;
}
