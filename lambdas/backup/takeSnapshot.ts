import * as z from 'zod';
import { LeaseHeldError } from '../shared/errors/index.ts';
import { MirrorRepository } from '../shared/git/MirrorRepository.ts';
import type { Registry, StatusCursor } from '../shared/registry/Registry.ts';
import { REPLICATION_STATUSES, type ReplicationStatus } from '../shared/registry/RepositoryState.ts';
import { parseRepositoryPath, type RepositoryPath } from '../shared/repositoryPath.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import { packKey, snapshotId, snapshotKey, SnapshotRepositorySchema, type SnapshotManifest, type SnapshotRepository } from './SnapshotManifest.ts';

/** A snapshot that one invocation could not finish: where its walk stands, for the next invocation. */
export const SNAPSHOT_PROGRESS_KEY = '.git-geo/backup-in-progress.json';

/** Every status a mirror may be read in; deleted repositories have none. */
const LIVE_STATUSES: readonly ReplicationStatus[] = REPLICATION_STATUSES.filter((status) => status !== 'deleted');
/** Passes over the repositories updated since the snapshot began, to catch those that changed status mid-walk. */
const CATCH_UP_PASSES = 3;
/** The lease the backup takes on each repository while it reads its mirror. */
const LEASE_SECONDS = 120;

const ProgressSchema = z.object({
  version: z.literal(1),
  id: z.string(),
  takenAt: z.iso.datetime(),
  region: z.string(),
  /** Where the walk of the status index stands; undefined once it is done. */
  cursor: z.object({ status: z.enum(REPLICATION_STATUSES), lastKey: z.record(z.string(), z.unknown()).optional() }).optional(),
  repositories: z.array(SnapshotRepositorySchema),
  /** Repositories a sync held when the walk reached them: read again before the snapshot completes. */
  deferred: z.array(z.string()),
});
type Progress = z.infer<typeof ProgressSchema>;

export interface SnapshotDependencies {
  readonly store: ObjectStore;
  readonly registry: Registry;
  readonly region: string;
  readonly now: () => Date;
  /** Milliseconds the invocation has left; without it the snapshot runs to the end. */
  readonly remainingMs?: () => number;
  /** Stop and save the cursor when fewer than this many milliseconds are left. @default 60000 */
  readonly marginMs?: number;
}

export interface SnapshotOutcome {
  readonly manifest: SnapshotManifest;
  /** False when the deadline came first: the cursor is saved and the next invocation goes on. */
  readonly complete: boolean;
  /** Repositories a sync still held at the end of this invocation (complete is then false). */
  readonly deferred: readonly string[];
}

/**
 * Records a point-in-time snapshot of every mirror the region's registry knows: HEAD, refs and
 * the names of the packs that hold their objects, in one small manifest. Packs are immutable and
 * content-named, so nothing is copied. Reads each mirror's own files (not the registry's refs), so
 * the manifest names exactly what a reader of the bucket saw, under the repository's lease, so no
 * sync writes the mirror meanwhile (a repository a sync holds is read again at the end).
 *
 * Repositories come from the registry's status index (no Scan). When `remainingMs` runs low the walk
 * stops, saves its cursor and what it collected, and the next call continues the same snapshot.
 */
export async function takeSnapshot(deps: SnapshotDependencies): Promise<SnapshotOutcome> {
  const progress = (await loadProgress(deps)) ?? fresh(deps);
  const collected = new Map(progress.repositories.map((entry) => [entry.repository, entry]));
  const deferred = new Set(progress.deferred);
  // Read in this invocation (a repository without a mirror is visited but not collected).
  const visited = new Set<string>();
  const owner = `backup-${progress.id}`;
  const margin = deps.marginMs ?? 60_000;
  const outOfTime = (): boolean => deps.remainingMs !== undefined && deps.remainingMs() < margin;
  const read = async (repository: RepositoryPath): Promise<void> => {
    visited.add(repository);
    const now = deps.now();
    try {
      await deps.registry.acquireLease(repository, { owner, until: new Date(now.getTime() + LEASE_SECONDS * 1000).toISOString() }, now.toISOString());
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
      deferred.add(repository);
      return;
    }
    try {
      deferred.delete(repository);
      const entry = await readMirror(deps.store, repository);
      if (entry === undefined) collected.delete(repository);
      else collected.set(repository, entry);
    } finally {
      await deps.registry.releaseLease(repository, owner);
    }
  };
  const pause = async (cursor: StatusCursor | undefined): Promise<SnapshotOutcome> => {
    const saved: Progress = { ...progress, cursor, repositories: [...collected.values()], deferred: [...deferred] };
    await deps.store.put(SNAPSHOT_PROGRESS_KEY, JSON.stringify(saved), { contentType: 'application/json' });
    return { manifest: toManifest(saved), complete: false, deferred: [...deferred] };
  };

  let cursor: StatusCursor | undefined = progress.cursor;
  if (cursor !== undefined) {
    for await (const entry of deps.registry.inStatuses(LIVE_STATUSES, cursor)) {
      if (outOfTime()) return pause(cursor);
      if (!collected.has(entry.repository)) await read(parseRepositoryPath(entry.repository));
      cursor = entry.cursor;
    }
  }
  // Repositories that changed status during the walk may have moved to a status already walked: every
  // change sets updatedAt, so those updated since the snapshot began are read (again).
  for (let pass = 0; pass < CATCH_UP_PASSES; pass++) {
    let changed = 0;
    for (const status of LIVE_STATUSES) {
      for await (const entry of deps.registry.withStatus(status, { updatedSince: progress.takenAt })) {
        if (collected.has(entry.repository) || deferred.has(entry.repository) || visited.has(entry.repository)) continue;
        if (outOfTime()) return pause(undefined);
        await read(parseRepositoryPath(entry.repository));
        changed++;
      }
    }
    if (changed === 0) break;
  }
  for (const repository of [...deferred]) {
    if (outOfTime()) return pause(undefined);
    await read(parseRepositoryPath(repository));
  }
  if (deferred.size > 0) return pause(undefined);

  const manifest = toManifest({ ...progress, repositories: [...collected.values()] });
  await deps.store.put(snapshotKey(manifest.id), JSON.stringify(manifest, null, 1), { contentType: 'application/json' });
  if (progress.cursor !== undefined || progress.repositories.length > 0) await deps.store.delete([SNAPSHOT_PROGRESS_KEY]);
  return { manifest, complete: true, deferred: [] };
}

function fresh(deps: SnapshotDependencies): Progress {
  const takenAt = deps.now();
  return { version: 1, id: snapshotId(takenAt), takenAt: takenAt.toISOString(), region: deps.region, cursor: { status: LIVE_STATUSES[0]! }, repositories: [], deferred: [] };
}

async function loadProgress(deps: SnapshotDependencies): Promise<Progress | undefined> {
  const body = await deps.store.get(SNAPSHOT_PROGRESS_KEY);
  if (body === undefined) return undefined;
  return ProgressSchema.parse(JSON.parse(body.toString('utf8')));
}

function toManifest(progress: Progress): SnapshotManifest {
  const repositories = [...progress.repositories].sort((a, b) => a.repository.localeCompare(b.repository));
  return { version: 1, id: progress.id, region: progress.region, takenAt: progress.takenAt, repositories };
}

async function readMirror(store: ObjectStore, repository: RepositoryPath): Promise<SnapshotRepository | undefined> {
  const current = await new MirrorRepository(store, repository).readState();
  if (current === undefined) return undefined;
  const packs = await Promise.all(
    current.packs.map(async (name) => {
      const key = packKey(repository, name, 'pack');
      return { name, key, bytes: (await store.head(key))?.size ?? 0 };
    }),
  );
  return {
    repository,
    ...(current.snapshot.head === undefined ? {} : { head: current.snapshot.head }),
    refs: Object.fromEntries(current.snapshot.refs),
    peeled: Object.fromEntries(current.snapshot.peeled),
    packs,
  };
}
