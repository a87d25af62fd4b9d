import type { ChangeEvent } from '../shared/events/ChangeEvent.ts';
import type { RepositoryState } from '../shared/registry/RepositoryState.ts';

/**
 * Clock margin between the notify and sync functions. AWS hosts keep time to a few
 * milliseconds; the margin keeps a discovery that raced a webhook from counting as covering it.
 */
export const COVERAGE_MARGIN_MS = 250;

const ZERO_OID = /^0+$/;

/**
 * A push whose every ref is already where the mirror's last sync left it: the usual case
 * for the last pushes of a burst, whose changes an earlier sync already brought. Needs the
 * refs in the registry (kept for repositories with few refs).
 */
function holdsChanges(event: ChangeEvent, state: RepositoryState): boolean {
  const refs = state.refs;
  if (event.kind !== 'push' || event.changes.length === 0 || refs === undefined) return false;
  return event.changes.every((change) => (ZERO_OID.test(change.after) ? !(change.ref in refs) : refs[change.ref] === change.after));
}

/**
 * True when the mirror already holds everything `event` describes, so no fetch is needed:
 * the registry has recorded this sequence (or a later one), its refs are already where the
 * event moved them, a sync read the primary's refs after the event's batch was received, or
 * the last successful sync read the primary's refs after the webhook arrived (hosts send
 * webhooks after the push lands).
 */
export function isCovered(event: ChangeEvent, state: RepositoryState | undefined, batch: { receivedAt?: string } = {}): boolean {
  if (state === undefined || state.status === 'verification_failed' || state.status === 'deleted') return false;
  // git-geo's own requests (verification, backfill, the watchdog) ask for a read of the primary made after them.
  const ownRequest = event.kind === 'sync.requested' && event.source === 'git-geo';
  if (!ownRequest && state.syncedSequence !== undefined && state.syncedSequence >= event.sequence) return true;
  if (holdsChanges(event, state)) return true;
  if (state.discoveredAt === undefined) return false;
  // The event was on the queue before its batch was received, so its push had landed; a discovery
  // since then saw it. FIFO holds the repository's group to this invocation, so that discovery was
  // made by this invocation, on this clock: no margin is needed.
  if (batch.receivedAt !== undefined && Date.parse(state.discoveredAt) > Date.parse(batch.receivedAt)) return true;
  return Date.parse(state.discoveredAt) > Date.parse(event.receivedAt) + COVERAGE_MARGIN_MS;
}
