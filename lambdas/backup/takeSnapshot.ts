import { MirrorRepository } from '../shared/git/MirrorRepository.ts';
import type { Registry } from '../shared/registry/Registry.ts';
import { parseRepositoryPath } from '../shared/repositoryPath.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import { packKey, snapshotId, snapshotKey, type SnapshotManifest, type SnapshotRepository } from './SnapshotManifest.ts';

export interface SnapshotDependencies {
  readonly store: ObjectStore;
  readonly registry: Registry;
  readonly region: string;
  readonly now: () => Date;
}

/**
 * Records a point-in-time snapshot of every mirror the region's registry knows: HEAD, refs and
 * the names of the packs that hold their objects, in one small manifest. Packs are immutable and
 * content-named, so nothing is copied. Reads each mirror's own files (not the registry's refs), so
 * the manifest names exactly what a reader of the bucket saw.
 */
export async function takeSnapshot(deps: SnapshotDependencies): Promise<SnapshotManifest> {
  const takenAt = deps.now();
  const repositories: SnapshotRepository[] = [];
  for await (const state of deps.registry.list()) {
    if (state.status === 'deleted') continue;
    const repository = parseRepositoryPath(state.repository);
    const mirror = new MirrorRepository(deps.store, repository);
    const current = await mirror.readState();
    if (current === undefined) continue;
    const packs = await Promise.all(
      current.packs.map(async (name) => {
        const key = packKey(repository, name, 'pack');
        return { name, key, bytes: (await deps.store.head(key))?.size ?? 0 };
      }),
    );
    repositories.push({
      repository,
      ...(current.snapshot.head === undefined ? {} : { head: current.snapshot.head }),
      refs: Object.fromEntries(current.snapshot.refs),
      peeled: Object.fromEntries(current.snapshot.peeled),
      packs,
    });
  }
  repositories.sort((a, b) => a.repository.localeCompare(b.repository));
  const manifest: SnapshotManifest = { version: 1, id: snapshotId(takenAt), region: deps.region, takenAt: takenAt.toISOString(), repositories };
  await deps.store.put(snapshotKey(manifest.id), JSON.stringify(manifest, null, 1), { contentType: 'application/json' });
  return manifest;
}
