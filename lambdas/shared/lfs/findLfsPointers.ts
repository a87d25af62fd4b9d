import { PackIndex } from '../git/pack/PackIndex.ts';
import { PackSet } from '../git/pack/PackSet.ts';
import { OBJECT_TYPES } from '../git/pack/readEntryHeader.ts';
import { MAX_POINTER_BYTES, parseLfsPointer, type LfsObjectId } from './LfsPointer.ts';

/** A delta this small can produce a pointer-sized blob: inserts cost one byte per 127, plus the two size headers. */
const MAX_POINTER_DELTA_BYTES = MAX_POINTER_BYTES + MAX_POINTER_BYTES / 127 + 32;

/** The size a delta produces: the second varint of its header. */
function deltaResultSize(delta: Buffer): number {
  let position = 0;
  for (let header = 0; header < 2; header++) {
    let value = 0;
    let shift = 0;
    let byte: number;
    do {
      byte = delta[position++] ?? 0;
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80 && position < delta.length);
    if (header === 1) return value;
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * The LFS objects named by pointer files among a pack's blobs. Only entries that can be a
 * pointer (at most 1 KiB, whole or as a delta) are inflated, so a pack of large blobs costs
 * little more than reading its index. A delta whose base is outside the given packs (a thin
 * pack) is skipped; verification scans the whole mirror and finds what a sync skipped.
 */
export function findLfsPointers(packs: readonly { readonly pack: Uint8Array; readonly idx: Uint8Array }[]): LfsObjectId[] {
  const buffers = packs.map(({ pack, idx }) => ({ pack: Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength), idx: Buffer.from(idx.buffer, idx.byteOffset, idx.byteLength) }));
  const set = new PackSet(buffers);
  const found = new Map<string, LfsObjectId>();
  for (const { idx } of buffers) {
    const index = new PackIndex(idx);
    for (let position = 0; position < index.count; position++) {
      const oid = index.oidAt(position);
      const location = set.locate(oid);
      if (location === undefined) continue;
      const { header } = location;
      let pointer: LfsObjectId | undefined;
      if (header.type === OBJECT_TYPES.blob) {
        if (header.size > MAX_POINTER_BYTES) continue;
        pointer = parseLfsPointer(set.inflateEntry(location));
      } else if (header.baseOffset !== undefined || header.baseOid !== undefined) {
        if (header.size > MAX_POINTER_DELTA_BYTES) continue;
        if (deltaResultSize(set.inflateEntry(location)) > MAX_POINTER_BYTES) continue;
        try {
          const object = set.read(oid);
          if (object.type === 'blob') pointer = parseLfsPointer(object.data);
        } catch {
          continue; // its base is in another pack (thin): found by verification's full scan
        }
      }
      if (pointer !== undefined) found.set(pointer.oid, pointer);
    }
  }
  return [...found.values()];
}
