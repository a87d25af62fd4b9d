import { createHash } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { ProtocolError } from '../../errors/index.ts';
import { OBJECT_TYPES, OFS_DELTA, REF_DELTA } from './readEntryHeader.ts';
import type { PackSet } from './PackSet.ts';

export interface WritePackOptions {
  /** Objects the receiver has: a delta on one of them may stay a delta (a thin pack; it completes it). */
  readonly thinBases?: ReadonlySet<string>;
  /** False when the receiver did not ask for `ofs-delta`: deltas name their base by id instead. @default true */
  readonly ofsDelta?: boolean;
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

/** An OFS_DELTA's distance back to its base, as git encodes it. */
function ofsDistance(distance: number): Buffer {
  const bytes = [distance & 0x7f];
  let rest = Math.floor(distance / 128);
  while (rest > 0) {
    rest -= 1;
    bytes.unshift(0x80 | (rest & 0x7f));
    rest = Math.floor(rest / 128);
  }
  return Buffer.from(bytes);
}

/**
 * Writes a pack of `oids` from stored packs, reusing their bytes as git's pack-objects does:
 * a whole object's entry is copied as is; a delta stays a delta (its compressed bytes copied)
 * when its base is in the new pack (written before it, as an OFS_DELTA) or the receiver has it
 * (a REF_DELTA of a thin pack, which the receiver completes); otherwise the object is written
 * whole. Nothing else is inflated, so a pack costs about its size in copies.
 */
export function writePack(packs: PackSet, oids: readonly Buffer[], options: WritePackOptions = {}): { pack: Buffer; stats: PackStats } {
  const included = new Set(oids.map((oid) => oid.toString('hex')));
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(included.size, 8);
  parts.push(header);
  let position = header.length;
  const offsets = new Map<string, number>();
  const stats = { reused: 0, deltas: 0, rewritten: 0 };
  const push = (...buffers: Buffer[]): void => {
    for (const buffer of buffers) {
      parts.push(buffer);
      position += buffer.length;
    }
  };

  // Bases go out before their deltas: a stack instead of recursion, as chains can be long.
  const emit = (first: Buffer): void => {
    const pending: Buffer[] = [first];
    while (pending.length > 0) {
      const oid = pending.at(-1)!;
      const id = oid.toString('hex');
      if (offsets.has(id)) {
        pending.pop();
        continue;
      }
      const location = packs.locate(oid);
      if (location === undefined) throw new ProtocolError('object to send is in no pack', { data: { oid: id } });
      const stored = location.header;
      const isDelta = stored.baseOffset !== undefined || stored.baseOid !== undefined;
      const base = isDelta ? (stored.baseOid ?? packs.oidAt(location.pack, stored.baseOffset!)) : undefined;
      const baseId = base?.toString('hex');
      if (base !== undefined && baseId !== undefined && included.has(baseId) && !offsets.has(baseId)) {
        pending.push(base);
        continue;
      }
      pending.pop();
      offsets.set(id, position);
      if (base === undefined) {
        push(packs.rawEntry(location));
        stats.reused++;
      } else if (baseId !== undefined && (offsets.has(baseId) || options.thinBases?.has(baseId))) {
        const data = packs.rawEntry(location).subarray(stored.dataOffset - location.offset);
        const baseOffset = offsets.get(baseId);
        if (baseOffset !== undefined && options.ofsDelta !== false) push(entryHeader(OFS_DELTA, stored.size), ofsDistance(offsets.get(id)! - baseOffset), data);
        else push(entryHeader(REF_DELTA, stored.size), base, data);
        stats.deltas++;
      } else {
        const object = packs.read(oid);
        push(entryHeader(OBJECT_TYPES[object.type], object.data.length), deflateSync(object.data));
        stats.rewritten++;
      }
    }
  };
  for (const oid of oids) emit(oid);
  const body = Buffer.concat(parts);
  const pack = Buffer.concat([body, createHash('sha1').update(body).digest()]);
  return { pack, stats };
}
