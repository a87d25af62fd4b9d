import type { RepositoryState } from '../shared/registry/RepositoryState.ts';

export type StaleReason = 'not-replicated' | 'no-events' | 'behind' | 'unusable';

/**
 * How a region's copy compares with the primary, as far as change events tell:
 * - `fresh`: the registry has covered the newest change event for the repository;
 * - `write-pending`: fresh by events, but a push through this region's endpoint began within
 *   the window, and its webhook may not have arrived yet;
 * - `stale`: behind, never replicated, or not usable.
 */
export type Freshness =
  | { readonly kind: 'fresh' }
  | { readonly kind: 'write-pending'; readonly since: string }
  | { readonly kind: 'stale'; readonly reason: StaleReason };

/** Statuses whose mirror is complete up to `syncedSequence` (a sync in progress or failed leaves the last one whole). */
const USABLE = new Set<RepositoryState['status']>(['synced', 'verified', 'started', 'failed']);

export function assessFreshness(
  state: RepositoryState | undefined,
  latest: { readonly latestSequence: number } | undefined,
  now: Date,
  writePendingMs: number,
): Freshness {
  if (state === undefined || state.syncedSequence === undefined) return { kind: 'stale', reason: 'not-replicated' };
  if (!USABLE.has(state.status)) return { kind: 'stale', reason: 'unusable' };
  if (latest === undefined) return { kind: 'stale', reason: 'no-events' };
  if (state.syncedSequence < latest.latestSequence) return { kind: 'stale', reason: 'behind' };
  if (state.writePendingAt !== undefined) {
    const since = Date.parse(state.writePendingAt);
    if (Number.isFinite(since) && now.getTime() - since < writePendingMs) return { kind: 'write-pending', since: state.writePendingAt };
  }
  return { kind: 'fresh' };
}
