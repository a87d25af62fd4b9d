import { isLfsPath } from '../../endpoint/lfs/parseLfsRequest.ts';
import { findLfsPointers } from '../../shared/lfs/findLfsPointers.ts';
import { LfsApi } from '../../shared/lfs/LfsApi.ts';
import { OID_PATTERN, type LfsObjectId } from '../../shared/lfs/LfsPointer.ts';
import { replicateLfsObjects } from '../../shared/lfs/replicateLfsObjects.ts';
import { mirrorLfsPointers, verifyLfsObjects } from '../../shared/lfs/verifyLfsObjects.ts';
import type { BlobStrategy, ReplicableType } from '../ReplicableType.ts';

/** An LFS object as an item: `id` is its oid; the size a pointer names rides along for the fetch. */
const item = (object: LfsObjectId): { id: string; size: number } => ({ id: object.oid, size: object.size });
function objectOf(entry: { id: string }): LfsObjectId {
  const size = (entry as { size?: unknown }).size;
  if (!OID_PATTERN.test(entry.id) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new Error(`not an LFS item: ${entry.id}`);
  return { oid: entry.id, size };
}

const strategy: BlobStrategy<LfsApi> = {
  api: (primary) => new LfsApi(primary),
  itemsIn: (pack) => findLfsPointers([pack]).map(item),
  list: async (context, repository) => (await mirrorLfsPointers(context, repository)).map(item),
  async fetch(context, repository, items) {
    const result = await replicateLfsObjects(context, repository, items.map(objectOf));
    return { items: items.length, ids: items.map(({ id }) => id), fetched: result.fetched, fetchedBytes: result.fetchedBytes, failed: [], missingOnPrimary: result.missingOnPrimary };
  },
  async verify(context, repository, items) {
    const result = await verifyLfsObjects(context, repository, items.map(objectOf));
    return {
      items: result.pointers,
      ids: result.objects.map(({ oid }) => oid),
      fetched: result.repaired,
      fetchedBytes: 0,
      failed: [...result.corrupt, ...(result.repairError === undefined ? [] : result.missing)],
      missingOnPrimary: result.missingOnPrimary,
      unrepaired: result.repairError === undefined ? [] : [...result.corrupt, ...result.missing],
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
