import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { ProtocolError } from '../../errors/index.ts';
import { OBJECT_TYPES, REF_DELTA } from './readEntryHeader.ts';
import type { PackSet } from './PackSet.ts';

export interface WritePackOptions {
  /** Objects the receiver has: a delta on one of them may stay a delta (a thin pack; it completes it). */
  readonly thinBases?: ReadonlySet<string>;
}

/** What a pack costs to build: entries reused as stored, kept as deltas, or inflated and written whole. */
export interface PackStats {
  readonly reused: number;
  readonly deltas: number;
  readonly rewritten: number;
}

function entryHeader(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (type << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

/**
 * Writes a pack of `oids` from stored packs, reusing their bytes as git's pack-objects does:
 * a whole object's entry is copied as is; a delta stays a delta (its compressed bytes copied,
 * its base named by id) when its base is in the new pack or the receiver has it; otherwise the
 * object is written whole. Nothing is inflated but those, so a pack costs about its size in copies.
 */
export function writePack(packs: PackSet, oids: readonly Buffer[], options: WritePackOptions = {}): { pack: Buffer; stats: PackStats } {
  const included = new Set(oids.map((oid) => oid.toString('hex')));
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(oids.length, 8);
  parts.push(header);
  let reused = 0;
  let deltas = 0;
  let rewritten = 0;
  for (const oid of oids) {
    const location = packs.locate(oid);
    if (location === undefined) throw new ProtocolError('object to send is in no pack', { data: { oid: oid.toString('hex') } });
    const stored = location.header;
    if (stored.baseOffset === undefined && stored.baseOid === undefined) {
      parts.push(packs.rawEntry(location));
      reused++;
      continue;
    }
    const base = stored.baseOid ?? packs.oidAt(location.pack, stored.baseOffset!);
    const baseId = base.toString('hex');
    if (included.has(baseId) || options.thinBases?.has(baseId)) {
      const raw = packs.rawEntry(location);
      parts.push(entryHeader(REF_DELTA, stored.size), base, raw.subarray(stored.dataOffset - location.offset));
      deltas++;
      continue;
    }
    const object = packs.read(oid);
    parts.push(entryHeader(OBJECT_TYPES[object.type], object.data.length), deflateSync(object.data));
    rewritten++;
  }
  const body = Buffer.concat(parts);
  const pack = Buffer.concat([body, createHash('sha1').update(body).digest()]);
  return { pack, stats: { reused, deltas, rewritten } };
}
