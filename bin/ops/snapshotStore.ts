import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packKey, retiredPackKey, SNAPSHOT_PREFIX, SnapshotManifestSchema, snapshotKey, type SnapshotManifest, type SnapshotRepository } from '../../lambdas/backup/SnapshotManifest.ts';
import { formatInfoRefs } from '../../lambdas/shared/git/infoRefs.ts';
import { formatPackedRefs } from '../../lambdas/shared/git/packedRefs.ts';
import { formatPacksList } from '../../lambdas/shared/git/packsList.ts';
import type { RefSnapshot } from '../../lambdas/shared/git/RefSnapshot.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';

/** Snapshot ids in a region's bucket, oldest first. */
export async function listSnapshots(store: ObjectStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const object of store.list(SNAPSHOT_PREFIX)) {
    const id = /^\.git-geo\/snapshots\/(\d{8}T\d{9}Z)\.json$/.exec(object.key)?.[1];
    if (id !== undefined) ids.push(id);
  }
  return ids.sort();
}

/** A snapshot's manifest; `latest` names the newest. Throws with the ids there are when it is missing. */
export async function readManifest(store: ObjectStore, id: string): Promise<SnapshotManifest> {
  const resolved = id === 'latest' ? (await listSnapshots(store)).at(-1) : id;
  const body = resolved === undefined ? undefined : await store.get(snapshotKey(resolved));
  if (body === undefined) {
    const ids = await listSnapshots(store);
    throw new Error(`no snapshot ${id} in this region; there are: ${ids.length === 0 ? 'none' : ids.join(', ')}`);
  }
  return SnapshotManifestSchema.parse(JSON.parse(body.toString('utf8')));
}

export function snapshotRefs(entry: SnapshotRepository): RefSnapshot {
  return { head: entry.head, refs: new Map(Object.entries(entry.refs)), peeled: new Map(Object.entries(entry.peeled)) };
}

/**
 * Where a snapshot's pack file is now: at the key it had (the mirror still lists it, or has not
 * been collected), else among the packs a deletion or rename retired. Throws when it is gone.
 */
export async function locatePack(store: ObjectStore, entry: SnapshotRepository, name: string, ext: 'pack' | 'idx'): Promise<string> {
  for (const key of [packKey(entry.repository, name, ext), retiredPackKey(name, ext)]) {
    if ((await store.head(key)) !== undefined) return key;
  }
  throw new Error(`pack ${name}.${ext} of ${entry.repository} is no longer in the bucket`);
}

/**
 * Rebuilds one repository of a snapshot as an ordinary bare repository on disk: its packs and
 * indexes, packed-refs, HEAD. Answers the repository's directory.
 */
export async function materializeRepository(store: ObjectStore, entry: SnapshotRepository, into: string): Promise<string> {
  const gitDir = join(into, `${entry.repository}.git`);
  await mkdir(join(gitDir, 'objects', 'pack'), { recursive: true });
  await mkdir(join(gitDir, 'objects', 'info'), { recursive: true });
  await mkdir(join(gitDir, 'refs', 'heads'), { recursive: true });
  await mkdir(join(gitDir, 'refs', 'tags'), { recursive: true });
  for (const pack of entry.packs) {
    for (const ext of ['pack', 'idx'] as const) {
      const body = await store.get(await locatePack(store, entry, pack.name, ext));
      if (body === undefined) throw new Error(`pack ${pack.name}.${ext} of ${entry.repository} vanished while reading it`);
      await writeFile(join(gitDir, 'objects', 'pack', `${pack.name}.${ext}`), body);
    }
  }
  const refs = snapshotRefs(entry);
  await writeFile(join(gitDir, 'HEAD'), `ref: ${entry.head ?? 'refs/heads/main'}\n`);
  await writeFile(join(gitDir, 'config'), '[core]\n\trepositoryformatversion = 0\n\tfilemode = false\n\tbare = true\n');
  await writeFile(join(gitDir, 'packed-refs'), formatPackedRefs(refs));
  await mkdir(join(gitDir, 'info'), { recursive: true });
  await writeFile(join(gitDir, 'info', 'refs'), formatInfoRefs(refs));
  await writeFile(join(gitDir, 'objects', 'info', 'packs'), formatPacksList(entry.packs.map((pack) => pack.name)));
  return gitDir;
}
