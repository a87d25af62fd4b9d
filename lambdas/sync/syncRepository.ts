import { randomUUID } from 'node:crypto';
import { REF_SYNC_KINDS, type ChangeEvent } from '../shared/events/ChangeEvent.ts';
import { isRequestFor } from '../shared/events/SyncRequester.ts';
import { MirrorRepository, mirrorPrefix, type MirrorState } from '../shared/git/MirrorRepository.ts';
import { maintainPacks, type PackMaintenancePolicy } from '../shared/git/maintainPacks.ts';
import { writeBundle } from '../shared/git/mirrorBundle.ts';
import { packSize } from '../shared/git/PackFiles.ts';
import { blobsPack } from '../shared/git/pack/blobsPack.ts';
import { discardPack, type PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import type { RefusedRef } from '../shared/git/protocolV2.ts';
import { filterRefs, refsChecksum, type RefSnapshot } from '../shared/git/RefSnapshot.ts';
import type { Lease, Registry } from '../shared/registry/Registry.ts';
import type { RepositoryState } from '../shared/registry/RepositoryState.ts';
import { parseRepositoryPath, type RepositoryPath } from '../shared/repositoryPath.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import { AccessDeniedError, GeoError, LeaseHeldError, RepositoryMovedError, RepositoryNotFoundError } from '../shared/errors/index.ts';
import { backoffSeconds } from './backoff.ts';
import { isCovered } from './isCovered.ts';
import { isSuperseded } from './isSuperseded.ts';
import { acceptRefs, tipsWorthStoring } from './refsToMirror.ts';
import type { AfterPackStored } from '../replicable/blobSteps.ts';
import { SyncFailedError } from './SyncFailedError.ts';
import { TOMBSTONE_PREFIX } from './tombstonePrefix.ts';

/** What happens to the mirror of a deleted repository. */
export type DeletedRepositoryPolicy = 'tombstone' | 'remove';

/** The SQS batch an event came in: every event in it was on the queue when it was received. */
export interface SyncBatch {
  readonly receivedAt?: string;
}

export interface SyncDependencies {
  readonly registry: Registry;
  readonly store: ObjectStore;
  readonly primary: PrimaryRemote;
  /** Ref prefixes to mirror; heads and tags at least. */
  readonly refNamespaces: readonly string[];
  readonly now: () => Date;
  /** @default 'tombstone' */
  readonly deletedRepositories?: DeletedRepositoryPolicy;
  /**
   * True when the primary is read with credentials. Without them a host answers 401 for a
   * repository that is gone (GitHub does), so a 401 then confirms a deletion.
   */
  readonly authenticated?: boolean;
  /** How long a sync may hold a repository: at least the function's timeout. @default 900 */
  readonly leaseSeconds?: number;
  /** First retry delay; doubles with each failed attempt. @default 10 */
  readonly retryBaseSeconds?: number;
  /** Who holds the lease (the queue message id); a fresh id when not given. */
  readonly owner?: string;
  /**
   * At most one read of the primary per repository this often: an event arriving sooner after the
   * last sync waits out the rest, and that one sync then covers every push made meanwhile.
   * An isolated push is not delayed. @default 0
   */
  readonly minSyncIntervalSeconds?: number;
  /** Geometric repacking of the mirror's packs after a sync, under the sync's lease, and the bundles closed packs get (its `bundles`). */
  readonly packMaintenance?: PackMaintenancePolicy;
  /** Runs once a fetched pack is stored, before its refs are published: the replicable blob types' step (LFS objects). */
  readonly afterPackStored?: AfterPackStored;
  /** Which blobs that step reads: kept aside while a spooled pack is indexed. */
  readonly blobStepCandidate?: (content: Buffer) => boolean;
}

export type SyncOutcome =
  | { readonly kind: 'covered'; readonly reason: 'synced' | 'superseded' }
  | { readonly kind: 'postponed'; readonly retryInSeconds: number }
  | { readonly kind: 'deleted'; readonly tombstone: string | undefined }
  | {
      readonly kind: 'synced';
      readonly fetchedBytes: number;
      readonly refCount: number;
      readonly changed: boolean;
      readonly attempt: number;
      /** Refs the primary has under names git refuses: not stored (reported in the registry). */
      readonly refusedRefs?: readonly RefusedRef[];
      /** Packs merged by pack maintenance after the sync. */
      readonly repacked?: number;
      /** For a rename: where the mirror was moved from (server-side, no download). */
      readonly movedFrom?: string;
    };

/** Retry delays are capped: far below SQS's 12 h visibility limit, and a repaired primary is picked up within the hour. */
export const MAX_RETRY_DELAY_SECONDS = 3600;

/** The first sync of an empty primary still needs a HEAD: the host's default branch if it said, else git's own. */
const DEFAULT_HEAD = 'refs/heads/main';

/**
 * Brings one repository's mirror in line with the primary, whatever the event: it fetches the
 * primary's whole current state, not the event's delta, so one sync covers every event before it
 * and those finish without a fetch. Deletions and renames are checked against the primary first:
 * a stale, replayed or forged one cannot delete or move a repository that still exists.
 * A failure is recorded in the registry and rethrown as SyncFailedError (transient: with a retry delay).
 */
export async function syncRepository(deps: SyncDependencies, event: ChangeEvent, batch: SyncBatch = {}): Promise<SyncOutcome> {
  const { registry } = deps;
  const repository = event.repository;
  const state = await registry.get(repository);
  if (isSuperseded(event, state)) {
    return { kind: 'covered', reason: 'superseded' };
  }
  if (state?.status === 'deleted' && REF_SYNC_KINDS.has(event.kind) && (await isGoneFromPrimary(deps, repository))) {
    // A new event names a deleted or renamed-away path, and the primary still has nothing there (or
    // redirects to the new path): nothing to mirror, and the path must not come back.
    return { kind: 'covered', reason: 'superseded' };
  }
  if (await alreadyApplied(deps, event, state, batch)) {
    await registry.recordCovered(repository, event.sequence, deps.now().toISOString());
    return { kind: 'covered', reason: 'synced' };
  }
  const wait = REF_SYNC_KINDS.has(event.kind) ? untilIntervalPassed(deps, state) : 0;
  if (wait > 0) return { kind: 'postponed', retryInSeconds: Math.ceil(wait / 1000) };
  const owner = deps.owner ?? randomUUID();
  const attempt = await registry.recordStarted(repository, event, deps.now().toISOString(), lease(deps, owner));
  try {
    if (event.kind === 'repository.deleted') return await deleteRepository(deps, event, attempt, owner);
    if (event.kind === 'repository.renamed' && event.previousRepository !== undefined) return await renameRepository(deps, event, attempt, owner);
    // Verification found the mirror damaged: it is rebuilt from the primary, trusting nothing it holds.
    return await fetchAndPublish(deps, event, attempt, owner, state?.status === 'verification_failed');
  } catch (error) {
    if (error instanceof LeaseHeldError) {
      // The old path of a rename is busy: not a failure of this repository; try again shortly.
      await registry.releaseLease(repository, owner);
      throw error;
    }
    if (error instanceof RepositoryNotFoundError && isRequestFor(event, 'backfill') && state?.lastSyncedAt === undefined) {
      // Listed by backfill, absent on the primary (a type's repository not created yet, a project deleted since): nothing failed.
      await registry.recordDeleted(repository, { at: deps.now().toISOString(), deletedAt: event.receivedAt }, owner);
      return { kind: 'deleted', tombstone: undefined };
    }
    const retryable = !(error instanceof GeoError) || error.retryable;
    const retryInSeconds = retryable ? backoffSeconds(attempt, deps.retryBaseSeconds, MAX_RETRY_DELAY_SECONDS) : undefined;
    const at = deps.now();
    await registry.recordFailed(
      repository,
      {
        error,
        at: at.toISOString(),
        nextAttemptAt: retryInSeconds === undefined ? undefined : new Date(at.getTime() + retryInSeconds * 1000).toISOString(),
      },
      owner,
    );
    throw new SyncFailedError(repository, attempt, retryInSeconds, error);
  }
}

/** Milliseconds until the repository's minimum sync interval has passed since its last successful read of the primary. */
function untilIntervalPassed(deps: SyncDependencies, state: RepositoryState | undefined): number {
  const interval = (deps.minSyncIntervalSeconds ?? 0) * 1000;
  if (interval === 0 || state?.status !== 'synced' || state.discoveredAt === undefined) return 0;
  return Date.parse(state.discoveredAt) + interval - deps.now().getTime();
}

function lease(deps: SyncDependencies, owner: string): Lease {
  return { owner, until: new Date(deps.now().getTime() + (deps.leaseSeconds ?? 900) * 1000).toISOString() };
}

/** True when the mirror already reflects the event, so it finishes without touching the primary. */
async function alreadyApplied(deps: SyncDependencies, event: ChangeEvent, state: RepositoryState | undefined, batch: SyncBatch): Promise<boolean> {
  if (REF_SYNC_KINDS.has(event.kind)) return isCovered(event, state, batch);
  // A deletion the last sync already saw past (the repository was read after it) is stale: it was recreated.
  if (event.kind === 'repository.deleted') return isCovered(event, state);
  if (event.kind === 'repository.renamed' && event.previousRepository !== undefined) {
    if (!isCovered(event, state)) return false;
    const previous = await deps.registry.get(event.previousRepository);
    return previous === undefined || previous.status === 'deleted';
  }
  return false;
}

/**
 * True when the primary no longer serves the repository at this path: 404/410, a redirect to
 * another path, or (for a primary read without credentials) 401/403.
 */
async function isGoneFromPrimary(deps: SyncDependencies, repository: RepositoryPath): Promise<boolean> {
  try {
    await deps.primary.discover(repository);
    return false;
  } catch (error) {
    if (error instanceof RepositoryNotFoundError || error instanceof RepositoryMovedError) return true;
    if (error instanceof AccessDeniedError && !deps.authenticated) return true;
    throw error;
  }
}

/** Retires a mirror as configured: moved under the tombstone prefix, or deleted. Answers the tombstone prefix. */
async function retireMirror(deps: SyncDependencies, mirror: MirrorRepository): Promise<string | undefined> {
  if ((await mirror.files()).length === 0) return undefined;
  let tombstone: string | undefined;
  if ((deps.deletedRepositories ?? 'tombstone') === 'tombstone') {
    const stamp = deps.now().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    tombstone = `${TOMBSTONE_PREFIX}${stamp}/${mirror.prefix}`;
    await mirror.copyTo(tombstone);
  }
  await mirror.remove();
  return tombstone;
}

async function deleteRepository(deps: SyncDependencies, event: ChangeEvent, attempt: number, owner: string): Promise<SyncOutcome> {
  const repository = event.repository;
  // The primary has it: the deletion is stale (recreated since) or not real; keep the mirror current instead.
  if (!(await isGoneFromPrimary(deps, repository))) return await fetchAndPublish(deps, event, attempt, owner);
  const tombstone = await retireMirror(deps, new MirrorRepository(deps.store, repository));
  const at = deps.now().toISOString();
  await deps.registry.recordDeleted(repository, { at, deletedAt: event.receivedAt, deletedSequence: event.sequence, tombstone }, owner);
  return { kind: 'deleted', tombstone };
}

/**
 * A rename or transfer: once the primary confirms the old path is gone, the old mirror moves to the
 * new path by server-side copies (nothing is downloaded again) and the old path is marked deleted
 * with `movedTo`, so late events for it cannot bring it back. Then the new path syncs as usual,
 * which costs one ref discovery and no fetch when nothing changed meanwhile.
 */
async function renameRepository(deps: SyncDependencies, event: ChangeEvent, attempt: number, owner: string): Promise<SyncOutcome> {
  const previous = parseRepositoryPath(event.previousRepository);
  const { registry, store } = deps;
  const now = deps.now().toISOString();
  await registry.acquireLease(previous, lease(deps, owner), now);
  let movedFrom: string | undefined;
  try {
    const previousState = await registry.get(previous);
    const alreadyRetired = previousState?.status === 'deleted' && previousState.movedTo === event.repository;
    if (!alreadyRetired && (await isGoneFromPrimary(deps, previous))) {
      const from = new MirrorRepository(store, previous);
      const target = new MirrorRepository(store, event.repository);
      const hasSource = (await from.readState()) !== undefined;
      const hasTarget = (await target.readState()) !== undefined;
      let tombstone: string | undefined;
      if (hasSource && !hasTarget) {
        await from.copyTo(mirrorPrefix(event.repository));
        await from.remove();
        movedFrom = previous;
      } else if (hasSource) {
        // The new path was mirrored on its own already; the old copy is retired like a deletion.
        tombstone = await retireMirror(deps, from);
      }
      await registry.recordDeleted(previous, { at: deps.now().toISOString(), deletedAt: event.receivedAt, movedTo: event.repository, tombstone }, owner);
    }
  } finally {
    await registry.releaseLease(previous, owner);
  }
  const outcome = await fetchAndPublish(deps, event, attempt, owner);
  return movedFrom === undefined || outcome.kind !== 'synced' ? outcome : { ...outcome, movedFrom };
}

/**
 * Reads the primary and brings the mirror to its refs. `repair`: the mirror's packs and refs are
 * not trusted (verification failed), so every object is fetched again into one pack and every ref
 * file is rewritten. The packs it no longer lists are left to the backup garbage collector, which
 * deletes them unless a retained snapshot still needs them.
 */
async function fetchAndPublish(deps: SyncDependencies, event: ChangeEvent, attempt: number, owner: string, repair = false): Promise<SyncOutcome> {
  const { registry, primary } = deps;
  const repository = event.repository;
  // Everything the primary had before this instant is in what we are about to read.
  const discoveredAt = deps.now().toISOString();
  const mirror = new MirrorRepository(deps.store, repository);
  // Independent round trips, one to the primary and one to the bucket: taken together.
  const [discovery, readState] = await Promise.all([primary.discover(repository, { refPrefixes: deps.refNamespaces }), mirror.readState().catch((error: unknown) => {
    if (repair) return undefined;
    throw error;
  })]);
  const current = repair ? undefined : readState;
  const { snapshot: wanted, refused } = acceptRefs(filterRefs(discovery.snapshot, deps.refNamespaces), discovery.refused);
  const target: RefSnapshot = {
    // An empty repository advertises no HEAD: keep the mirror's, else take the host's default branch.
    head: wanted.head ?? current?.snapshot.head ?? event.defaultBranch ?? DEFAULT_HEAD,
    refs: wanted.refs,
    peeled: wanted.peeled,
  };

  const held = new Set(current?.snapshot.refs.values() ?? []);
  // A pack an earlier sync stored (listed, with its tips) before dying short of writing refs: not fetched again.
  const stored = new Set(current?.storedTips ?? []);
  const missing = [...new Set(target.refs.values())].filter((oid) => !held.has(oid) && !stored.has(oid));
  let next: MirrorState = { snapshot: target, packs: current?.packs ?? [], storedTips: current?.storedTips, packBytes: current?.packBytes, bundle: current?.bundle };
  let fetchedBytes = 0;
  if (missing.length > 0) {
    const haves = [...new Set([...held, ...stored])];
    const pack = await primary.fetchPack(repository, {
      discovery,
      wants: missing,
      haves,
      ...(deps.afterPackStored === undefined || deps.blobStepCandidate === undefined ? {} : { keepBlob: deps.blobStepCandidate }),
    });
    if (pack !== undefined) {
      try {
        await mirror.writePack(pack);
        // Blob steps (LFS pointers) read the pack's small blobs; a spooled pack kept those aside.
        if (deps.afterPackStored !== undefined) await deps.afterPackStored(repository, 'packPath' in pack ? blobsPack(pack.keptBlobs ?? []) : pack);
      } finally {
        await discardPack(pack);
      }
      fetchedBytes = packSize(pack);
      const packBytes = new Map(next.packBytes ?? []);
      packBytes.set(pack.name, fetchedBytes);
      next = { ...next, packs: [...next.packs.filter((name) => name !== pack.name), pack.name], storedTips: tipsWorthStoring(target, missing), packBytes };
      // Fetched without haves (a first sync, a repair), the pack holds everything the refs reach.
      const bundles = deps.packMaintenance?.bundles;
      if (haves.length === 0 && bundles !== undefined && fetchedBytes >= bundles.minPackBytes) {
        next = { ...next, bundle: await writeBundle(mirror, pack.name, target.refs) };
      }
    }
  }
  await mirror.publish(next, current);
  const repack = await maintainPacks(mirror, next, deps.packMaintenance);
  const packs = repack.state.packs;
  const anonymousRead = await readsAnonymously(primary, repository);
  await registry.recordSynced(
    repository,
    {
      sequence: event.sequence,
      receivedAt: event.receivedAt,
      discoveredAt,
      syncedAt: deps.now().toISOString(),
      head: target.head,
      refs: target.refs,
      refsChecksum: refsChecksum(target),
      packCount: packs.length,
      fetchedBytes,
      anonymousRead,
      refusedRefs: refused,
    },
    owner,
  );
  return {
    kind: 'synced',
    fetchedBytes,
    refCount: target.refs.size,
    changed: missing.length > 0,
    attempt,
    ...(refused.length === 0 ? {} : { refusedRefs: refused }),
    ...(repack.replaced.length === 0 ? {} : { repacked: repack.replaced.length }),
  };
}

/**
 * Whether the primary serves the repository without credentials, so regional endpoints may
 * serve anonymous readers without asking it. An anonymous sync has just proved it; otherwise
 * one anonymous probe. Unknown (undefined) when the probe fails: the sync does not.
 */
async function readsAnonymously(primary: PrimaryRemote, repository: ChangeEvent['repository']): Promise<boolean | undefined> {
  if (!primary.authenticated) return true;
  try {
    return (await primary.withAuthorization(undefined).access(repository)) === 'allowed';
  } catch {
    return undefined;
  }
}
