import { mkdir, rm, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { SnapshotManifest, SnapshotRepository } from '../../lambdas/backup/SnapshotManifest.ts';
import { packKey, retiredPackKey } from '../../lambdas/backup/SnapshotManifest.ts';
import { MirrorRepository } from '../../lambdas/shared/git/MirrorRepository.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { PrimaryCredentials } from '../../lambdas/shared/secrets/SecretReader.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';
import { git } from '../local/git.ts';
import type { HostApi } from './HostApi.ts';
import { pushRepository } from './pushRepository.ts';
import { materializeRepository, snapshotRefs } from './snapshotStore.ts';

/** Where restored repositories go. */
export type RestoreTarget =
  /** Back into the region's mirror, in place (its packs are still in the bucket). */
  | { readonly kind: 'mirror' }
  /** Pushed to a Git host: `<url>/<path>.git`, forced and pruned to the snapshot's refs. */
  | { readonly kind: 'push'; readonly url: string; readonly host: HostApi; readonly credentials?: PrimaryCredentials }
  /** As `git bundle` files stock `git clone` reads: in a local directory, and/or uploaded to the bucket. */
  | { readonly kind: 'bundle'; readonly dir?: string; readonly upload?: boolean };

export interface RestoredRepository {
  readonly repository: string;
  readonly refs: number;
  /** Bundle file written, or its key in the bucket. */
  readonly bundle?: string;
  readonly bundleKey?: string;
  readonly error?: string;
}

/** Where an uploaded bundle goes: beside the snapshots, outside every repository's prefix. */
export function bundleKey(snapshotId: string, repository: string): string {
  return `.git-geo/bundles/${snapshotId}/${repository}.bundle`;
}

async function restoreIntoMirror(store: ObjectStore, entry: SnapshotRepository): Promise<void> {
  const repository = parseRepositoryPath(entry.repository);
  // Packs a deletion or rename retired come back (server-side copies) before any ref names them.
  for (const pack of entry.packs) {
    for (const ext of ['pack', 'idx'] as const) {
      const key = packKey(repository, pack.name, ext);
      if ((await store.head(key)) !== undefined) continue;
      const retired = retiredPackKey(pack.name, ext);
      if ((await store.head(retired)) === undefined) throw new Error(`pack ${pack.name}.${ext} of ${repository} is no longer in the bucket`);
      await store.copy(retired, key);
    }
  }
  const mirror = new MirrorRepository(store, repository);
  // The usual write order: packs, pack list, refs, HEAD.
  await mirror.publish({ snapshot: snapshotRefs(entry), packs: entry.packs.map((pack) => pack.name) }, await mirror.readState());
}

/**
 * Restores repositories from a snapshot: into the mirror in place, to a Git host by push, or as
 * bundles. The snapshot's packs are read where they are (or where a deletion retired them); nothing
 * in the snapshot is changed, so a restore can be repeated.
 */
export async function restoreSnapshot(options: {
  store: ObjectStore;
  manifest: SnapshotManifest;
  target: RestoreTarget;
  scratch: string;
  refNamespaces: readonly string[];
  repositories?: readonly string[];
  onRepository?: (result: RestoredRepository) => void;
}): Promise<RestoredRepository[]> {
  const only = options.repositories === undefined ? undefined : new Set(options.repositories);
  const entries = options.manifest.repositories.filter((entry) => only === undefined || only.has(entry.repository));
  if (only !== undefined) {
    const absent = [...only].filter((repository) => !entries.some((entry) => entry.repository === repository));
    if (absent.length > 0) throw new Error(`snapshot ${options.manifest.id} has no ${absent.join(', ')}; it has ${options.manifest.repositories.map((entry) => entry.repository).join(', ') || 'no repositories'}`);
  }
  const results: RestoredRepository[] = [];
  for (const entry of entries) {
    const refs = Object.keys(entry.refs).length;
    let result: RestoredRepository;
    try {
      const { target } = options;
      if (target.kind === 'mirror') {
        await restoreIntoMirror(options.store, entry);
        result = { repository: entry.repository, refs };
      } else {
        const work = join(options.scratch, `restore-${options.manifest.id}-${results.length}`);
        const gitDir = await materializeRepository(options.store, entry, work);
        try {
          if (target.kind === 'push') {
            await target.host.ensureRepository(entry.repository);
            await pushRepository({ gitDir, url: `${target.url.replace(/\/+$/, '')}/${entry.repository}.git`, namespaces: options.refNamespaces, credentials: target.credentials });
            if (entry.head !== undefined && entry.head in entry.refs) await target.host.setDefaultBranch(entry.repository, entry.head);
            result = { repository: entry.repository, refs };
          } else {
            if (refs === 0) throw new Error('the repository was empty in this snapshot: there is nothing to bundle');
            const file = join(target.dir ?? work, `${entry.repository}.bundle`);
            await mkdir(dirname(file), { recursive: true });
            await git(['bundle', 'create', '--quiet', file, '--all'], { cwd: gitDir });
            let key: string | undefined;
            if (target.upload) {
              key = bundleKey(options.manifest.id, entry.repository);
              await options.store.put(key, await readFile(file), { contentType: 'application/x-git-bundle' });
            }
            result = { repository: entry.repository, refs, ...(target.dir ? { bundle: file } : {}), ...(key ? { bundleKey: key } : {}) };
          }
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      }
    } catch (error) {
      result = { repository: entry.repository, refs, error: (error as Error).message };
    }
    results.push(result);
    options.onRepository?.(result);
  }
  return results;
}
