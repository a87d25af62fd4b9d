import { LeaseHeldError } from '../shared/errors/index.ts';
import { SyncFailedError } from './SyncFailedError.ts';
import { SyncPostponedError } from './SyncPostponedError.ts';

/**
 * When a record that did not finish should come back, or undefined for the queue's own
 * visibility timeout. `receiveCount` is the message's ApproximateReceiveCount.
 */
export function retryDelaySeconds(error: unknown, receiveCount: number): number | undefined {
  // A live sync releases its lease within seconds; only a dead one holds it to the end.
  if (error instanceof LeaseHeldError) return Math.min(error.retryInSeconds, 2 ** Math.min(Math.max(receiveCount, 1) - 1, 9));
  if (error instanceof SyncFailedError || error instanceof SyncPostponedError) return error.retryInSeconds;
  return undefined;
}
