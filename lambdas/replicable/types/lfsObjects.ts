import { isLfsPath } from '../../endpoint/lfs/parseLfsRequest.ts';
import { findLfsPointers } from '../../shared/lfs/findLfsPointers.ts';
import { LfsApi } from '../../shared/lfs/LfsApi.ts';
import { OID_PATTERN, type LfsObjectId } from '../../shared/lfs/LfsPointer.ts';
import { replicateLfsObjects } from '../../shared/lfs/replicateLfsObjects.ts';
import { mirrorLfsPointers, verifyLfsObjects } from '../../shared/lfs/verifyLfsObjects.ts';
import type { BlobStrategy, ReplicableType } from '../ReplicableType.ts';

/** An LFS object as an item: `id` is `<oid>:<size>`, what a pointer names. */
const item = (object: LfsObjectId): { id: string } => ({ id: `${object.oid}:${object.size}` });
function objectOf({ id }: { id: string }): LfsObjectId {
  const [oid = '', size = ''] = id.split(':');
  if (!OID_PATTERN.test(oid) || !/^\d+$/.test(size)) throw new Error(`not an LFS item id: ${id}`);
  return { oid, size: Number(size) };
}

const strategy: BlobStrategy<LfsApi> = {
  api: (primary) => new LfsApi(primary),
  itemsIn: (pack) => findLfsPointers([pack]).map(item),
  list: async (context, repository) => (await mirrorLfsPointers(context, repository)).map(item),
  async fetch(context, repository, items) {
    const result = await replicateLfsObjects(context, repository, items.map(objectOf));
    return { items: items.length, fetched: result.fetched, fetchedBytes: result.fetchedBytes, failed: [], missingOnPrimary: result.missingOnPrimary };
  },
  async verify(context, repository) {
    const result = await verifyLfsObjects(context, repository);
    return {
      items: result.pointers,
      fetched: result.repaired,
      fetchedBytes: 0,
      failed: [...result.corrupt, ...(result.repairError === undefined ? [] : result.missing)],
      missingOnPrimary: result.missingOnPrimary,
    };
  },
  serves: isLfsPath,
};

/**
 * Git LFS objects: found as pointer blobs in the packs a sync brings, copied from the primary's
 * LFS batch API into `<path>.git/lfs/objects/`, verified by SHA-256, served by the regional
 * endpoint's LFS API (lambdas/endpoint/lfs/).
 */
export const lfsObjects: ReplicableType = { name: 'lfs-object', strategy: 'blob', blob: strategy };
