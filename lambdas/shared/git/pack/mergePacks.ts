import { createHash } from 'node:crypto';
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { ProtocolError } from '../../errors/index.ts';
import type { SpooledPack } from './PackIndexer.ts';
import { PackIndex } from './PackIndex.ts';
import { packIndexV2, type IndexEntry } from './packIndexV2.ts';
import { OFS_DELTA, readEntryHeader } from './readEntryHeader.ts';
import { ofsDistance } from './writePack.ts';

/** One pack to merge: its index, and its bytes as a stream (read once, front to back). */
export interface PackSource {
  readonly name: string;
  readonly idx: Buffer;
  readonly size: number;
  open(): Promise<AsyncIterable<Uint8Array>>;
}

/** Reads a stream in pieces of exactly the lengths asked for, holding at most the current piece. */
class Reader {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private readonly iterator: AsyncIterator<Uint8Array>;

  constructor(stream: AsyncIterable<Uint8Array>) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  async take(length: number): Promise<Buffer> {
    while (this.buffered < length) {
      const next = await this.iterator.next();
      if (next.done === true) throw new ProtocolError('pack ended early while being repacked', { data: { wanted: length, have: this.buffered } });
      const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const whole = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.buffered);
    this.chunks.length = 0;
    const piece = whole.subarray(0, length);
    if (whole.length > length) this.chunks.push(whole.subarray(length));
    this.buffered -= length;
    return piece;
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

/**
 * Merges packs into one, as `git repack` without `-f` does: every entry's stored bytes are copied
 * (nothing is inflated or deltified again), an OFS_DELTA's distance is re-encoded for its new
 * place, and an object held by several packs is kept once (deltas against a dropped copy point at
 * the kept one). The new index is built from the sources' indexes, so the cost is one read of
 * each pack and its index; memory holds the entry being copied and 28 bytes or so per object.
 * The pack is written to `spoolPath`; the caller uploads it and removes the file.
 */
export async function mergePacks(sources: readonly PackSource[], spoolPath: string): Promise<SpooledPack> {
  const indexes = sources.map((source) => new PackIndex(source.idx));
  // Which copy of each object is kept: the first, in source order.
  const keptIn = new Map<string, number>();
  indexes.forEach((index, source) => {
    for (let i = 0; i < index.count; i++) {
      const oid = index.oidAt(i).toString('hex');
      if (!keptIn.has(oid)) keptIn.set(oid, source);
    }
  });
  const out = openSync(spoolPath, 'w');
  const hash = createHash('sha1');
  let position = 0;
  const write = (bytes: Buffer): void => {
    hash.update(bytes);
    for (let written = 0; written < bytes.length; ) written += writeSync(out, bytes, written, bytes.length - written);
    position += bytes.length;
  };
  const entries: IndexEntry[] = [];
  const newOffset = new Map<string, number>();
  try {
    const header = Buffer.alloc(12);
    header.write('PACK', 0, 'latin1');
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(keptIn.size, 8);
    write(header);
    for (const [sourceIndex, source] of sources.entries()) {
      const index = indexes[sourceIndex]!;
      const order = Array.from({ length: index.count }, (_, i) => i).sort((a, b) => index.offsetAt(a) - index.offsetAt(b));
      const offsets = order.map((i) => index.offsetAt(i));
      const oidAtOffset = new Map(order.map((i, rank) => [offsets[rank]!, index.oidAt(i).toString('hex')]));
      const reader = new Reader(await source.open());
      try {
        const packHeader = await reader.take(12);
        if (packHeader.toString('latin1', 0, 4) !== 'PACK' || packHeader.readUInt32BE(8) !== index.count) {
          throw new ProtocolError('pack does not match its index', { data: { pack: source.name } });
        }
        let at = 12;
        for (const [rank, i] of order.entries()) {
          const start = offsets[rank]!;
          const end = rank + 1 < offsets.length ? offsets[rank + 1]! : source.size - 20;
          if (start !== at || end <= start) throw new ProtocolError('pack index offsets do not fit the pack', { data: { pack: source.name, offset: start } });
          const entry = await reader.take(end - start);
          at = end;
          const oid = index.oidAt(i).toString('hex');
          if (keptIn.get(oid) !== sourceIndex || newOffset.has(oid)) continue;
          const parsed = readEntryHeader(entry, start, start + entry.length, start);
          if (parsed === undefined) throw new ProtocolError('pack entry header runs past the entry', { data: { pack: source.name, offset: start } });
          let bytes = entry;
          if (parsed.type === OFS_DELTA) {
            const baseOid = oidAtOffset.get(parsed.baseOffset!);
            const baseAt = baseOid === undefined ? undefined : newOffset.get(baseOid);
            if (baseAt === undefined) throw new ProtocolError('delta base not found while repacking', { data: { pack: source.name, offset: start } });
            // The type-and-size bytes stay; the distance is re-encoded; the compressed data is copied.
            let sizeEnd = 0;
            while (entry[sizeEnd]! & 0x80) sizeEnd++;
            let distanceEnd = sizeEnd + 1;
            while (entry[distanceEnd]! & 0x80) distanceEnd++;
            bytes = Buffer.concat([entry.subarray(0, sizeEnd + 1), ofsDistance(position - baseAt), entry.subarray(distanceEnd + 1)]);
          }
          newOffset.set(oid, position);
          entries.push({ oid: Buffer.from(oid, 'hex'), offset: position, crc32: crc32(bytes) });
          write(bytes);
        }
        await reader.take(20);
      } finally {
        await reader.close();
      }
    }
    if (entries.length !== keptIn.size) throw new ProtocolError('repacking lost objects', { data: { expected: keptIn.size, written: entries.length } });
    const checksum = hash.digest();
    for (let written = 0; written < 20; ) written += writeSync(out, checksum, written, 20 - written);
    closeSync(out);
    return { name: `pack-${checksum.toString('hex')}`, packPath: spoolPath, packSize: position + 20, idx: packIndexV2(entries, checksum), objectCount: entries.length };
  } catch (error) {
    try {
      closeSync(out);
    } catch {
      // already closed
    }
    rmSync(spoolPath, { force: true });
    throw error;
  }
}
