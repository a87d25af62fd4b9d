import type { PackFiles } from '../shared/git/PackFiles.ts';
import type { LfsApi } from '../shared/lfs/LfsApi.ts';
import { findLfsPointers } from '../shared/lfs/findLfsPointers.ts';
import { replicateLfsObjects, type LfsReplicationResult } from '../shared/lfs/replicateLfsObjects.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';

/** What the sync runs once a fetched pack is stored, before the refs that name its objects are published. */
export type AfterPackStored = (repository: RepositoryPath, pack: PackFiles) => Promise<void>;

/**
 * The sync's LFS step: the pointers among the new pack's blobs name the LFS objects the new
 * commits introduce, and those the region lacks are copied from the primary's LFS API, verified,
 * before the refs are published. So a clone through the region never meets a pointer whose
 * object the region should have and has not; a failure fails the sync, which is retried.
 */
export function replicateLfsAfterPack(store: ObjectStore, api: LfsApi, onResult?: (repository: RepositoryPath, result: LfsReplicationResult) => void): AfterPackStored {
  return async (repository, pack) => {
    const pointers = findLfsPointers([pack]);
    if (pointers.length === 0) return;
    onResult?.(repository, await replicateLfsObjects({ store, api }, repository, pointers));
  };
}
