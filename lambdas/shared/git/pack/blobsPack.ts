import { createHash } from 'node:crypto';
import { crc32, deflateSync } from 'node:zlib';
import type { PackFiles } from '../PackFiles.ts';
import { packIndexV2, type IndexEntry } from './packIndexV2.ts';
import { OBJECT_TYPES } from './readEntryHeader.ts';
import { entryHeader } from './writePack.ts';

/** A blob kept aside while a pack was indexed (its id and content). */
export interface KeptBlob {
  readonly oid: Buffer;
  readonly content: Buffer;
}

/**
 * A small, whole pack of the given blobs, with its index: what a step that reads a fetched pack's
 * small blobs (LFS pointer discovery) is given when the fetched pack itself was spooled to disk.
 */
export function blobsPack(blobs: readonly KeptBlob[]): PackFiles {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(blobs.length, 8);
  const parts: Buffer[] = [header];
  const entries: IndexEntry[] = [];
  let offset = 12;
  for (const blob of blobs) {
    const entry = Buffer.concat([entryHeader(OBJECT_TYPES.blob, blob.content.length), deflateSync(blob.content)]);
    entries.push({ oid: blob.oid, offset, crc32: crc32(entry) });
    parts.push(entry);
    offset += entry.length;
  }
  const body = Buffer.concat(parts);
  const checksum = createHash('sha1').update(body).digest();
  return { name: `pack-${checksum.toString('hex')}`, pack: Buffer.concat([body, checksum]), idx: packIndexV2(entries, checksum) };
}
