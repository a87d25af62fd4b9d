import { createHash } from 'node:crypto';

export interface IndexEntry {
  /** The object id, 20 bytes. */
  readonly oid: Buffer;
  /** Offset of the entry in the pack. */
  readonly offset: number;
  /** CRC-32 of the entry's bytes in the pack (header and compressed data). */
  readonly crc32: number;
}

/**
 * A pack's entries as columns, in any order: ids 20 bytes each in one buffer, offsets and
 * CRC-32s by entry. No object per entry: an indexer of 849,014 objects (git/git) would
 * otherwise hold about 150 MB of small objects and buffer views just to write its index.
 */
export interface IndexColumns {
  readonly count: number;
  readonly oids: Buffer;
  readonly offsets: ArrayLike<number>;
  readonly crcs: ArrayLike<number>;
}

const LARGE_OFFSET = 0x80000000;

function columnsOf(entries: readonly IndexEntry[]): IndexColumns {
  const oids = Buffer.allocUnsafe(entries.length * 20);
  const offsets = new Float64Array(entries.length);
  const crcs = new Uint32Array(entries.length);
  entries.forEach((entry, index) => {
    entry.oid.copy(oids, index * 20);
    offsets[index] = entry.offset;
    crcs[index] = entry.crc32 >>> 0;
  });
  return { count: entries.length, oids, offsets, crcs };
}

/** Entry numbers in object-id order: by the ids' first four bytes, then the whole id on a tie. */
function idOrder({ count, oids }: IndexColumns): Uint32Array {
  const order = new Uint32Array(count);
  const keys = new Uint32Array(count);
  for (let entry = 0; entry < count; entry++) {
    order[entry] = entry;
    keys[entry] = oids.readUInt32BE(entry * 20);
  }
  return order.sort((a, b) => keys[a]! - keys[b]! || oids.compare(oids, b * 20, b * 20 + 20, a * 20, a * 20 + 20));
}

/**
 * Writes a pack index, version 2, byte for byte as `git index-pack` writes it: magic and
 * version, the fan-out table, the sorted object ids, their CRC-32s, their offsets (31 bits,
 * or an index into the 64-bit table), the pack's checksum, and the index's own SHA-1.
 * Memory: the index itself and 8 bytes per entry to sort by.
 */
export function packIndexV2(entries: readonly IndexEntry[] | IndexColumns, packChecksum: Buffer): Buffer {
  const columns = Array.isArray(entries) ? columnsOf(entries as readonly IndexEntry[]) : (entries as IndexColumns);
  const { count, oids, offsets, crcs } = columns;
  const order = idOrder(columns);
  let large = 0;
  for (let entry = 0; entry < count; entry++) if (offsets[entry]! >= LARGE_OFFSET) large++;
  const size = 8 + 256 * 4 + count * (20 + 4 + 4) + large * 8 + 20 + 20;
  const out = Buffer.alloc(size);
  out.writeUInt32BE(0xff744f63, 0);
  out.writeUInt32BE(2, 4);
  let position = 8;
  let index = 0;
  for (let byte = 0; byte < 256; byte++) {
    while (index < count && oids[order[index]! * 20]! <= byte) index++;
    out.writeUInt32BE(index, position);
    position += 4;
  }
  for (const entry of order) {
    oids.copy(out, position, entry * 20, entry * 20 + 20);
    position += 20;
  }
  for (const entry of order) {
    out.writeUInt32BE(crcs[entry]! >>> 0, position);
    position += 4;
  }
  const largeStart = position + count * 4;
  let largeIndex = 0;
  for (const entry of order) {
    const offset = offsets[entry]!;
    if (offset < LARGE_OFFSET) {
      out.writeUInt32BE(offset, position);
    } else {
      out.writeUInt32BE((LARGE_OFFSET | largeIndex) >>> 0, position);
      out.writeBigUInt64BE(BigInt(offset), largeStart + largeIndex * 8);
      largeIndex++;
    }
    position += 4;
  }
  position = largeStart + large * 8;
  packChecksum.copy(out, position);
  position += 20;
  createHash('sha1').update(out.subarray(0, position)).digest().copy(out, position);
  return out;
}
