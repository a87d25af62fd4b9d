import type { ChangePublisher } from '../shared/events/ChangePublisher.ts';
import type { EventLog } from '../shared/eventlog/EventLog.ts';

export interface RepublishDependencies {
  readonly eventLog: EventLog;
  readonly publisher: ChangePublisher;
  readonly now: () => Date;
  /** Events younger than this are left to notify, which may still be publishing them. */
  readonly minAgeSeconds: number;
  /** Stops taking new events after this instant (the invocation's deadline, less a margin). */
  readonly deadline?: number;
}

export interface RepublishResult {
  readonly published: number;
  readonly failed: number;
  readonly oldestFailed?: string;
}

/**
 * Publishes every change event the log holds unpublished, oldest first: the ones whose publish
 * failed after they were recorded and whose host never retried. Each is published under its
 * original deduplication id, so one that did reach the topic after all is not delivered twice
 * within SNS's five-minute window, and regions treat a later duplicate as already covered.
 */
export async function republishPending(deps: RepublishDependencies): Promise<RepublishResult> {
  const before = new Date(deps.now().getTime() - deps.minAgeSeconds * 1000).toISOString();
  let published = 0;
  let failed = 0;
  let oldestFailed: string | undefined;
  for await (const event of deps.eventLog.unpublished(before)) {
    if (deps.deadline !== undefined && Date.now() > deps.deadline) break;
    try {
      await deps.publisher.publish(event);
      await deps.eventLog.markPublished(event);
      published++;
    } catch {
      // Still failing: it stays in the index for the next run; the count shows in the logs and metrics.
      failed++;
      oldestFailed ??= event.receivedAt;
    }
  }
  return { published, failed, ...(oldestFailed ? { oldestFailed } : {}) };
}
