import type { ChangeEvent } from '../shared/events/ChangeEvent.ts';
import type { RepositoryState } from '../shared/registry/RepositoryState.ts';

/**
 * True when the repository was deleted, or renamed away, after `event` was received: the event
 * is stale (a late or duplicated delivery) and must not bring the old path back. Events received
 * after the deletion are new (the path was reused) and sync as usual.
 */
export function isSuperseded(event: ChangeEvent, state: RepositoryState | undefined): boolean {
  if (state?.status !== 'deleted' || state.deletedAt === undefined) return false;
  if (state.deletedSequence !== undefined && event.sequence <= state.deletedSequence) return true;
  return Date.parse(event.receivedAt) <= Date.parse(state.deletedAt);
}
