import type { RepositoryState } from '../shared/registry/RepositoryState.ts';

export type StaleReason = 'not-replicated' | 'behind' | 'unusable';

/** What the region last heard from the control plane, and how long silence is tolerated. */
export interface ControlPlaneView {
  /** The newest heartbeat the region recorded; undefined when it never heard one (a new region). */
  readonly heardAt?: string;
  /** Silence longer than this means the control plane is lost: announcements may be missing. */
  readonly lossAfterMs: number;
  /** With the control plane lost, how long after `heardAt` the copy is still served as usual. */
  readonly stalenessBudgetMs: number;
}

/**
 * How a region's copy compares with the primary, from the region's own registry only:
 * - `fresh`: the copy covers the newest change event announced to this region, and the control
 *   plane has been heard recently enough that no newer one can be missing;
 * - `write-pending`: fresh by events, but a push through this region's endpoint began within
 *   the window, and its webhook may not have arrived yet;
 * - `unproven`: the copy covers every announced event, but the control plane has gone quiet, so
 *   newer events may exist that the region cannot know about; `withinBudget` says whether the
 *   silence is still inside the staleness budget;
 * - `stale`: behind, never replicated, or not usable.
 */
export type Freshness =
  | { readonly kind: 'fresh' }
  | { readonly kind: 'write-pending'; readonly since: string }
  | { readonly kind: 'unproven'; readonly since: string; readonly withinBudget: boolean }
  | { readonly kind: 'stale'; readonly reason: StaleReason };

/** Statuses whose mirror is complete up to `syncedSequence` (a sync in progress or failed leaves the last one whole). */
const USABLE = new Set<RepositoryState['status']>(['synced', 'verified', 'started', 'failed']);

/** The newest sequence the region knows exists: announced to it, or handed to its sync. */
export function newestKnownSequence(state: RepositoryState): number {
  return Math.max(state.announcedSequence ?? 0, state.lastEventSequence ?? 0);
}

export function assessFreshness(state: RepositoryState | undefined, now: Date, writePendingMs: number, controlPlane?: ControlPlaneView): Freshness {
  if (state === undefined || state.syncedSequence === undefined) return { kind: 'stale', reason: 'not-replicated' };
  if (!USABLE.has(state.status)) return { kind: 'stale', reason: 'unusable' };
  if (state.syncedSequence < newestKnownSequence(state)) return { kind: 'stale', reason: 'behind' };
  // A push through this region is checked with the primary Git host first, control plane or not.
  if (state.writePendingAt !== undefined) {
    const since = Date.parse(state.writePendingAt);
    if (Number.isFinite(since) && now.getTime() - since < writePendingMs) return { kind: 'write-pending', since: state.writePendingAt };
  }
  if (controlPlane?.heardAt !== undefined) {
    const silentMs = now.getTime() - Date.parse(controlPlane.heardAt);
    if (silentMs > controlPlane.lossAfterMs) return { kind: 'unproven', since: controlPlane.heardAt, withinBudget: silentMs <= controlPlane.stalenessBudgetMs };
  }
  return { kind: 'fresh' };
}
