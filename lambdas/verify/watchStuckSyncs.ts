import type { SyncRequester } from '../shared/events/SyncRequester.ts';
import type { Registry } from '../shared/registry/Registry.ts';
import type { RepositoryState } from '../shared/registry/RepositoryState.ts';

export interface StuckSyncDependencies {
  readonly registry: Registry;
  readonly requester: SyncRequester;
  readonly now: () => Date;
  /** A sync still `started` this long after its lease ran out (or after it started, without a lease) is stuck. */
  readonly graceSeconds?: number;
  /** How long a sync may hold a repository: the sync function's timeout. */
  readonly leaseSeconds: number;
}

/** True when a sync has been `started` past its lease: its invocation died, or its message was lost or is held elsewhere. */
export function isStuck(state: RepositoryState, now: Date, leaseSeconds: number, graceSeconds = 0): boolean {
  if (state.status !== 'started') return false;
  const until = state.leaseUntil ?? (state.syncStartedAt === undefined ? undefined : new Date(Date.parse(state.syncStartedAt) + leaseSeconds * 1000).toISOString());
  if (until === undefined) return true;
  if (Date.parse(until) + graceSeconds * 1000 > now.getTime()) return false;
  // Asked for already, and that request has not had its own lease's time to run.
  return state.syncRequestedAt === undefined || Date.parse(state.syncRequestedAt) + leaseSeconds * 1000 < now.getTime();
}

/**
 * When the push this region has yet to replicate arrived, if there is one. A permanent failure
 * is left out: it waits for an operator, and is reported as a failure instead of as backlog.
 */
export function unreplicatedSince(state: RepositoryState): string | undefined {
  if (state.status === 'deleted' || (state.status === 'failed' && state.lastError?.retryable === false)) return undefined;
  const synced = state.syncedSequence ?? 0;
  // The announcement is recorded as the event reaches the region, before any sync takes it: a
  // backlog building in the queue (a push storm, a stopped sync) shows here at once. Each time is
  // the newest event of its kind, so the age is a lower bound when several pushes wait.
  const since = [
    (state.lastEventSequence ?? 0) > synced ? state.lastEventReceivedAt : undefined,
    (state.announcedSequence ?? 0) > synced ? state.announcedAt : undefined,
  ].filter((at): at is string => at !== undefined);
  return since.length === 0 ? undefined : since.reduce((oldest, at) => (Date.parse(at) < Date.parse(oldest) ? at : oldest));
}

/**
 * Finds syncs stuck in `started` and asks for them again. A sync's lease is the sync function's
 * timeout, so a sync past it can no longer be running: it is retried within a minute of its
 * lease running out (the watchdog's schedule), not after hours.
 */
export async function watchStuckSyncs(deps: StuckSyncDependencies): Promise<{ readonly requested: readonly string[] }> {
  const now = deps.now();
  const stuck: RepositoryState[] = [];
  // Only syncs `started` at least a lease ago can be stuck: a query of the status index, never a scan.
  const updatedBefore = new Date(now.getTime() - deps.leaseSeconds * 1000).toISOString();
  for await (const entry of deps.registry.withStatus('started', { updatedBefore })) {
    const state = await deps.registry.get(entry.repository);
    if (state !== undefined && isStuck(state, now, deps.leaseSeconds, deps.graceSeconds)) stuck.push(state);
  }
  await deps.requester.request(stuck.map((state) => ({ repository: state.repository, state, reason: 'stuck-sync' as const })));
  for (const state of stuck) await deps.registry.markSyncRequested(state.repository, now.toISOString(), 'stuck-sync');
  return { requested: stuck.map((state) => state.repository) };
}
