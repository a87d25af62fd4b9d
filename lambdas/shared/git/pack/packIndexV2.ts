import { createHash } from 'node:crypto';

export interface IndexEntry {
  /** The object id, 20 bytes. */
  readonly oid: Buffer;
  /** Offset of the entry in the pack. */
  readonly offset: number;
  /** CRC-32 of the entry's bytes in the pack (header and compressed data). */
  readonly crc32: number;
}

const LARGE_OFFSET = 0x80000000;

/**
 * Writes a pack index, version 2, byte for byte as `git index-pack` writes it: magic and
 * version, the fan-out table, the sorted object ids, their CRC-32s, their offsets (31 bits,
 * or an index into the 64-bit table), the pack's checksum, and the index's own SHA-1.
 */
export function packIndexV2(entries: readonly IndexEntry[], packChecksum: Buffer): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.oid, b.oid));
  const count = sorted.length;
  const large = sorted.filter((entry) => entry.offset >= LARGE_OFFSET).length;
  const size = 8 + 256 * 4 + count * (20 + 4 + 4) + large * 8 + 20 + 20;
  const out = Buffer.alloc(size);
  out.writeUInt32BE(0xff744f63, 0);
  out.writeUInt32BE(2, 4);
  let position = 8;
  let index = 0;
  for (let byte = 0; byte < 256; byte++) {
    while (index < count && sorted[index]!.oid[0]! <= byte) index++;
    out.writeUInt32BE(index, position);
    position += 4;
  }
  for (const entry of sorted) {
    entry.oid.copy(out, position);
    position += 20;
  }
  for (const entry of sorted) {
    out.writeUInt32BE(entry.crc32 >>> 0, position);
    position += 4;
  }
  const largeStart = position + count * 4;
  let largeIndex = 0;
  for (const entry of sorted) {
    if (entry.offset < LARGE_OFFSET) {
      out.writeUInt32BE(entry.offset, position);
    } else {
      out.writeUInt32BE((LARGE_OFFSET | largeIndex) >>> 0, position);
      out.writeBigUInt64BE(BigInt(entry.offset), largeStart + largeIndex * 8);
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
