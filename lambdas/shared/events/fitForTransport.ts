import type { ChangeEvent } from './ChangeEvent.ts';

/**
 * SNS and SQS carry at most 256 KiB per message and DynamoDB 400 KB per item. An event over
 * this budget is recorded without its ref changes: they are hints, the sync reads the primary.
 */
export const MAX_EVENT_BYTES = 200_000;

export function fitForTransport<Event extends ChangeEvent>(event: Event): Event {
  if (Buffer.byteLength(JSON.stringify(event)) <= MAX_EVENT_BYTES) return event;
  return { ...event, changes: [], changesOmitted: true };
}
