import { parsePackListNotes, parsePacksList } from '../shared/git/packsList.ts';
import { TOMBSTONE_PREFIX } from '../sync/tombstonePrefix.ts';
import type { ObjectStore, StoredObjectInfo } from '../shared/storage/ObjectStore.ts';
import { retainedSnapshots, type RetentionPolicy } from './retainedSnapshots.ts';
import { SNAPSHOT_PREFIX, SnapshotManifestSchema, snapshotTime } from './SnapshotManifest.ts';

/** A pack written this recently is never collected: a sync may be between writing it and listing it. */
export const DEFAULT_GRACE_SECONDS = 3600;

export interface GarbageCollectionOptions {
  readonly store: ObjectStore;
  readonly retention: RetentionPolicy;
  readonly now: () => Date;
  /** @default 3600 */
  readonly graceSeconds?: number;
  /** List what would go, delete nothing. */
  readonly dryRun?: boolean;
}

export interface GarbageCollectionResult {
  readonly snapshotsKept: readonly string[];
  readonly snapshotsDeleted: readonly string[];
  /** Keys of the pack and index files deleted. */
  readonly packsDeleted: readonly string[];
  /** Unreferenced, but younger than the grace period. */
  readonly packsSpared: readonly string[];
  /** Keys of the bundles deleted: no mirror's pack list notes them any more. */
  readonly bundlesDeleted: readonly string[];
  readonly bytesFreed: number;
}

const MIRROR_PACK = /^(.+\.git\/)objects\/pack\/(pack-[0-9a-f]+)\.(pack|idx)$/;
const RETIRED_PACK = /^\.git-geo\/packs\/(pack-[0-9a-f]+)\.(pack|idx)$/;
const PACK_LIST = /^(.+\.git\/)objects\/info\/packs$/;
const MIRROR_BUNDLE = /^(.+\.git\/)bundles\/(bundle-[0-9a-f]+)\.bundle$/;

/**
 * Enforces the snapshot retention policy, then deletes every pack (and index) that neither a
 * retained snapshot nor a mirror's current pack list names. A pack younger than the grace period
 * is never deleted, listed or not: a sync writes its pack before it lists it. Tombstones are left
 * to their lifecycle rule. Bundles (mirrorBundle.ts) go the same way once their mirror's pack list
 * no longer notes them; snapshots name none (a bundle is a copy of a pack, made again at will).
 */
export async function collectGarbage(options: GarbageCollectionOptions): Promise<GarbageCollectionResult> {
  const { store } = options;
  const now = options.now();
  const snapshots: { id: string; at: Date; key: string }[] = [];
  for await (const object of store.list(SNAPSHOT_PREFIX)) {
    const id = /^\.git-geo\/snapshots\/(\d{8}T\d{9}Z)\.json$/.exec(object.key)?.[1];
    if (id !== undefined) snapshots.push({ id, at: snapshotTime(id), key: object.key });
  }
  const kept = retainedSnapshots(snapshots, now, options.retention);
  const expired = snapshots.filter((snapshot) => !kept.has(snapshot.id));
  // Manifests go first: from then on no one can restore from them, so their packs may go.
  if (!options.dryRun && expired.length > 0) await store.delete(expired.map((snapshot) => snapshot.key));

  const needed = new Set<string>();
  for (const snapshot of snapshots.filter((candidate) => kept.has(candidate.id))) {
    const body = await store.get(snapshot.key);
    if (body === undefined) continue;
    const manifest = SnapshotManifestSchema.parse(JSON.parse(body.toString('utf8')));
    for (const repository of manifest.repositories) for (const pack of repository.packs) needed.add(pack.name);
  }

  const packs: { info: StoredObjectInfo; name: string; mirror: string | undefined }[] = [];
  const listed = new Map<string, Set<string>>();
  const bundles: { info: StoredObjectInfo; name: string; mirror: string }[] = [];
  const notedBundles = new Map<string, string>();
  const listWrittenAt = new Map<string, number>();
  for await (const object of store.list('')) {
    if (object.key.startsWith(TOMBSTONE_PREFIX) || object.key.startsWith(SNAPSHOT_PREFIX)) continue;
    const mirrorPack = MIRROR_PACK.exec(object.key);
    if (mirrorPack !== null) {
      packs.push({ info: object, name: mirrorPack[2]!, mirror: mirrorPack[1]! });
      continue;
    }
    const retired = RETIRED_PACK.exec(object.key);
    if (retired !== null) {
      packs.push({ info: object, name: retired[1]!, mirror: undefined });
      continue;
    }
    const bundle = MIRROR_BUNDLE.exec(object.key);
    if (bundle !== null) {
      bundles.push({ info: object, name: bundle[2]!, mirror: bundle[1]! });
      continue;
    }
    const list = PACK_LIST.exec(object.key);
    if (list !== null) {
      const text = (await store.get(object.key))?.toString('utf8') ?? '';
      listed.set(list[1]!, new Set(parsePacksList(text)));
      const noted = parsePackListNotes(text).bundle;
      if (noted !== undefined) notedBundles.set(list[1]!, noted.name);
      if (object.lastModified !== undefined) listWrittenAt.set(list[1]!, object.lastModified.getTime());
    }
  }

  const graceMs = (options.graceSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
  const doomed: StoredObjectInfo[] = [];
  const spared: string[] = [];
  for (const pack of packs) {
    if (needed.has(pack.name)) continue;
    if (pack.mirror !== undefined && listed.get(pack.mirror)?.has(pack.name)) continue;
    const age = pack.info.lastModified === undefined ? 0 : now.getTime() - pack.info.lastModified.getTime();
    if (age < graceMs) {
      spared.push(pack.info.key);
      continue;
    }
    doomed.push(pack.info);
  }
  const doomedBundles: StoredObjectInfo[] = [];
  for (const bundle of bundles) {
    if (notedBundles.get(bundle.mirror) === bundle.name) continue;
    // Unnoted since the pack list's last write at the earliest: a URL the endpoint signed before that stays good for the grace period.
    const since = Math.max(bundle.info.lastModified?.getTime() ?? now.getTime(), listWrittenAt.get(bundle.mirror) ?? 0);
    if (now.getTime() - since < graceMs) spared.push(bundle.info.key);
    else doomedBundles.push(bundle.info);
  }
  if (!options.dryRun && doomedBundles.length > 0) await store.delete(doomedBundles.map((object) => object.key));
  if (!options.dryRun && doomed.length > 0) {
    // Indexes before packs: a pack without its index is still usable by `git index-pack`, an index alone is not.
    const ordered = [...doomed].sort((a, b) => Number(b.key.endsWith('.idx')) - Number(a.key.endsWith('.idx')));
    await store.delete(ordered.map((object) => object.key));
  }
  return {
    snapshotsKept: snapshots.filter((snapshot) => kept.has(snapshot.id)).map((snapshot) => snapshot.id).sort(),
    snapshotsDeleted: expired.map((snapshot) => snapshot.id).sort(),
    packsDeleted: doomed.map((object) => object.key).sort(),
    packsSpared: spared.sort(),
    bundlesDeleted: doomedBundles.map((object) => object.key).sort(),
    bytesFreed: [...doomed, ...doomedBundles].reduce((sum, object) => sum + object.size, 0),
  };
}
