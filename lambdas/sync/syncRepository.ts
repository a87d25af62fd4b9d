import type { ChangeEvent } from '../shared/events/ChangeEvent.ts';
import { MirrorRepository, type MirrorState } from '../shared/git/MirrorRepository.ts';
import type { PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import { filterRefs, refsChecksum, type RefSnapshot } from '../shared/git/RefSnapshot.ts';
import type { Registry } from '../shared/registry/Registry.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import { GeoError } from '../shared/errors/index.ts';
import { backoffSeconds } from './backoff.ts';
import { isCovered } from './isCovered.ts';
import { SyncFailedError } from './SyncFailedError.ts';

export interface SyncDependencies {
  readonly registry: Registry;
  readonly store: ObjectStore;
  readonly primary: PrimaryRemote;
  /** Ref prefixes to mirror; heads and tags at least. */
  readonly refNamespaces: readonly string[];
  readonly now: () => Date;
}

export type SyncOutcome =
  | { readonly kind: 'covered' }
  | {
      readonly kind: 'synced';
      readonly fetchedBytes: number;
      readonly refCount: number;
      readonly changed: boolean;
      readonly attempt: number;
    };

/** The first sync of an empty primary still needs a HEAD; git's own default branch will do. */
const DEFAULT_HEAD = 'refs/heads/main';

/**
 * Brings one repository's mirror to the primary's current state. It fetches the primary's
 * whole current state, not the event's delta, so one sync covers every event before it
 * and the events it covers finish without a fetch. A failure is recorded and rethrown.
 */
export async function syncRepository(deps: SyncDependencies, event: ChangeEvent, batch: { receivedAt?: string } = {}): Promise<SyncOutcome> {
  const { registry } = deps;
  const repository = event.repository;
  const state = await registry.get(repository);
  if (isCovered(event, state, batch)) {
    await registry.recordCovered(repository, event.sequence, deps.now().toISOString());
    return { kind: 'covered' };
  }
  const attempt = await registry.recordStarted(repository, event, deps.now().toISOString());
  try {
    return await fetchAndPublish(deps, event, attempt);
  } catch (error) {
    const retryable = !(error instanceof GeoError) || error.retryable;
    const retryInSeconds = retryable ? backoffSeconds(attempt) : undefined;
    const at = deps.now();
    await registry.recordFailed(repository, {
      error,
      at: at.toISOString(),
      nextAttemptAt: retryInSeconds === undefined ? undefined : new Date(at.getTime() + retryInSeconds * 1000).toISOString(),
    });
    throw new SyncFailedError(repository, attempt, retryInSeconds, error);
  }
}

async function fetchAndPublish(deps: SyncDependencies, event: ChangeEvent, attempt: number): Promise<SyncOutcome> {
  const { registry, primary } = deps;
  const repository = event.repository;
  // Everything the primary had before this instant is in what we are about to read.
  const discoveredAt = deps.now().toISOString();
  const mirror = new MirrorRepository(deps.store, repository);
  // Independent round trips, one to the primary and one to the bucket: taken together.
  const [discovery, current] = await Promise.all([primary.discover(repository), mirror.readState()]);
  const wanted = filterRefs(discovery.snapshot, deps.refNamespaces);
  const target: RefSnapshot = {
    head: wanted.head ?? current?.snapshot.head ?? DEFAULT_HEAD,
    refs: wanted.refs,
    peeled: wanted.peeled,
  };

  const held = new Set(current?.snapshot.refs.values() ?? []);
  const missing = [...new Set(target.refs.values())].filter((oid) => !held.has(oid));
  let packs = current?.packs ?? [];
  let fetchedBytes = 0;
  if (missing.length > 0) {
    const pack = await primary.fetchPack(repository, { discovery, wants: missing, haves: [...held] });
    if (pack !== undefined) {
      await mirror.writePack(pack);
      packs = [...packs.filter((name) => name !== pack.name), pack.name];
      fetchedBytes = pack.pack.length;
    }
  }
  const next: MirrorState = { snapshot: target, packs };
  await mirror.publish(next, current);
  await registry.recordSynced(repository, {
    sequence: event.sequence,
    receivedAt: event.receivedAt,
    discoveredAt,
    syncedAt: deps.now().toISOString(),
    head: target.head,
    refs: target.refs,
    refsChecksum: refsChecksum(target),
    packCount: packs.length,
    fetchedBytes,
  });
  return { kind: 'synced', fetchedBytes, refCount: target.refs.size, changed: missing.length > 0, attempt };
}
