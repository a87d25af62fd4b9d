import { createHash, type Hash } from 'node:crypto';
import { constants, crc32, inflateSync } from 'node:zlib';
import { ProtocolError } from '../../errors/index.ts';
import type { PackFiles } from '../PackFiles.ts';
import { applyDelta } from './applyDelta.ts';
import { packIndexV2, type IndexEntry } from './packIndexV2.ts';

const OFS_DELTA = 6;
const REF_DELTA = 7;
const TYPE_NAMES: readonly (string | undefined)[] = [undefined, 'commit', 'tree', 'blob', 'tag'];

interface Entry {
  readonly offset: number;
  /** Where the compressed data starts. */
  readonly dataOffset: number;
  readonly end: number;
  /** 1-4 for whole objects; 6 and 7 for deltas until resolved, then the base's type. */
  type: number;
  readonly size: number;
  /** OFS_DELTA: the base's offset; REF_DELTA: the base's id in hex. */
  readonly base?: number | string;
  oid?: Buffer;
  crc32?: number;
}

/** What one inflate told us: the data, and how many compressed bytes it took. */
interface Inflated {
  readonly data: Buffer;
  readonly consumed: number;
}

/** A pack's whole content, its index, and how many objects it holds. */
export interface IndexedPack extends PackFiles {
  readonly pack: Buffer;
  readonly idx: Buffer;
  readonly objectCount: number;
}

function objectId(type: number, data: Buffer): Buffer {
  return createHash('sha1').update(`${TYPE_NAMES[type]} ${data.length}\0`).update(data).digest();
}

/**
 * Indexes a git pack with Node's native zlib and SHA-1, as `git index-pack` does, while it
 * streams in: `write` takes the pack chunk by chunk and parses every entry whose bytes have
 * all arrived (whole objects are hashed on the spot), so the work overlaps the download.
 * Deltas are resolved as they arrive too: an OFS_DELTA's base always comes before it, and a
 * cache of recent contents (like git's delta base cache) means most bases are never inflated
 * twice. `finish` resolves REF_DELTAs whose base came later, checks the pack's checksum and
 * writes a v2 index that is byte for byte what git writes. The pack is held once.
 *
 * A thin pack (a delta whose base is not in the pack) is refused: git-geo never asks for one.
 */
export class PackIndexer {
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private length = 0;
  private count = -1;
  private offset = 12;
  /** Don't try the next entry again until this many bytes are in (a big object's data arrives over many chunks). */
  private retryAt = 0;
  private finished = false;
  private readonly entries: Entry[] = [];
  private readonly packHash: Hash = createHash('sha1');
  private hashed = 0;
  private readonly byOffset = new Map<number, Entry>();
  /** Ids of the objects resolved so far, for REF_DELTA bases. */
  private readonly byOid = new Map<string, Entry>();
  /** Deltas whose base has not been resolved yet (a REF_DELTA whose base comes later). */
  private readonly deferred: Entry[] = [];
  /** Recently used object contents by entry offset, least recently used first (a delta base cache, as git's). */
  private readonly cache = new Map<number, Buffer>();
  private cachedBytes = 0;

  /** @param cacheBytes the most object content kept for delta bases; git's own default is 96 MiB. */
  constructor(private readonly cacheBytes = 32 * 2 ** 20) {}

  /** Objects the pack declares (undefined until its header has arrived). */
  get objectCount(): number | undefined {
    return this.count < 0 ? undefined : this.count;
  }

  get receivedBytes(): number {
    return this.length;
  }

  write(chunk: Uint8Array): void {
    if (this.finished) throw new Error('PackIndexer: write after finish');
    if (this.length + chunk.length > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + chunk.length));
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.buffer.set(chunk, this.length);
    this.length += chunk.length;
    if (this.length >= this.retryAt) this.parse();
  }

  /** Every byte is in: checks the pack and answers it with its index. */
  finish(): IndexedPack {
    this.finished = true;
    this.parse();
    if (this.count < 0) throw new ProtocolError('pack ended before its header', { data: { bytes: this.length } });
    if (this.entries.length !== this.count) {
      throw new ProtocolError('pack ended early', { data: { objects: this.count, parsed: this.entries.length, bytes: this.length } });
    }
    if (this.length !== this.offset + 20) throw new ProtocolError('pack has bytes after its checksum', { data: { expected: this.offset + 20, actual: this.length } });
    this.hashUpTo(this.offset);
    const checksum = this.packHash.digest();
    const trailer = this.buffer.subarray(this.offset, this.offset + 20);
    if (!checksum.equals(trailer)) throw new ProtocolError('pack checksum mismatch', { data: { computed: checksum.toString('hex'), trailer: trailer.toString('hex') } });
    this.resolveDeltas();
    const pack = this.buffer.subarray(0, this.length);
    const index: IndexEntry[] = this.entries.map((entry) => ({ oid: entry.oid!, offset: entry.offset, crc32: entry.crc32! }));
    return { name: `pack-${checksum.toString('hex')}`, pack, idx: packIndexV2(index, Buffer.from(checksum)), objectCount: this.count };
  }

  private parse(): void {
    if (this.count < 0) {
      if (this.length < 12) return;
      if (this.buffer.toString('latin1', 0, 4) !== 'PACK') throw new ProtocolError('not a pack (no PACK signature)');
      const version = this.buffer.readUInt32BE(4);
      if (version !== 2 && version !== 3) throw new ProtocolError('unsupported pack version', { data: { version } });
      this.count = this.buffer.readUInt32BE(8);
    }
    while (this.entries.length < this.count) {
      const entry = this.parseEntry(this.offset);
      if (entry === undefined) {
        // Wait for at least as many new bytes as this entry already has, so a large object costs O(n), not O(n^2).
        this.retryAt = this.length + Math.max(1, this.length - this.offset);
        this.hashUpTo(this.offset);
        return;
      }
      this.entries.push(entry);
      this.offset = entry.end;
    }
    this.retryAt = Number.POSITIVE_INFINITY;
    this.hashUpTo(this.offset);
  }

  /** Parses the entry at `start`, or answers undefined when its bytes have not all arrived. */
  private parseEntry(start: number): Entry | undefined {
    const buffer = this.buffer;
    let position = start;
    if (position >= this.length) return this.needMore(start);
    let byte = buffer[position++]!;
    const type = (byte >> 4) & 7;
    let size = byte & 0x0f;
    let shift = 4;
    while (byte & 0x80) {
      if (position >= this.length) return this.needMore(start);
      byte = buffer[position++]!;
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    }
    let base: number | string | undefined;
    if (type === OFS_DELTA) {
      if (position >= this.length) return this.needMore(start);
      byte = buffer[position++]!;
      let distance = byte & 0x7f;
      while (byte & 0x80) {
        if (position >= this.length) return this.needMore(start);
        byte = buffer[position++]!;
        distance = (distance + 1) * 128 + (byte & 0x7f);
      }
      if (distance <= 0 || distance > start) throw new ProtocolError('pack delta points outside the pack', { data: { offset: start } });
      base = start - distance;
    } else if (type === REF_DELTA) {
      if (position + 20 > this.length) return this.needMore(start);
      base = buffer.toString('hex', position, position + 20);
      position += 20;
    } else if (TYPE_NAMES[type] === undefined) {
      throw new ProtocolError('pack entry has an invalid type', { data: { offset: start, type } });
    }
    const inflated = this.inflate(position, size);
    if (inflated === undefined) return this.needMore(start);
    const end = position + inflated.consumed;
    const entry: Entry = { offset: start, dataOffset: position, end, type, size, ...(base === undefined ? {} : { base }) };
    entry.crc32 = crc32(buffer.subarray(start, end));
    this.byOffset.set(start, entry);
    if (base === undefined) {
      this.resolved(entry, inflated.data);
    } else {
      const baseEntry = this.baseOf(entry);
      if (baseEntry?.oid === undefined) this.deferred.push(entry);
      else this.resolveDelta(entry, this.contentOf(baseEntry), inflated.data);
    }
    return entry;
  }

  private baseOf(entry: Entry): Entry | undefined {
    return typeof entry.base === 'number' ? this.byOffset.get(entry.base) : entry.base === undefined ? undefined : this.byOid.get(entry.base);
  }

  /** An entry's id is known: record it, keep its content for the deltas that may follow. */
  private resolved(entry: Entry, content: Buffer): void {
    entry.oid = objectId(entry.type, content);
    this.byOid.set(entry.oid.toString('hex'), entry);
    this.remember(entry.offset, content);
  }

  private resolveDelta(entry: Entry, base: { type: number; content: Buffer }, delta: Buffer): void {
    entry.type = base.type;
    this.resolved(entry, applyDelta(base.content, delta));
  }

  /** The content of a resolved entry: from the cache, or rebuilt from the pack (its base chain first). */
  private contentOf(entry: Entry | undefined): { type: number; content: Buffer } {
    if (entry === undefined || entry.oid === undefined) throw new ProtocolError('pack delta has no base before it');
    const cached = this.cache.get(entry.offset);
    if (cached !== undefined) {
      // Most recently used goes last.
      this.cache.delete(entry.offset);
      this.cache.set(entry.offset, cached);
      return { type: entry.type, content: cached };
    }
    const data = this.dataOf(entry);
    if (entry.base === undefined) {
      this.remember(entry.offset, data);
      return { type: entry.type, content: data };
    }
    const content = applyDelta(this.contentOf(this.baseOf(entry)).content, data);
    this.remember(entry.offset, content);
    return { type: entry.type, content };
  }

  private remember(offset: number, content: Buffer): void {
    if (content.length > this.cacheBytes / 4) return;
    this.cache.set(offset, content);
    this.cachedBytes += content.length;
    for (const [oldest, value] of this.cache) {
      if (this.cachedBytes <= this.cacheBytes) break;
      this.cache.delete(oldest);
      this.cachedBytes -= value.length;
    }
  }

  private needMore(offset: number): undefined {
    if (this.finished) throw new ProtocolError('pack is truncated', { data: { offset } });
    return undefined;
  }

  /** Inflates the zlib stream at `dataOffset`; undefined when it runs past the bytes received so far. */
  private inflate(dataOffset: number, size: number): Inflated | undefined {
    try {
      const result = inflateSync(this.buffer.subarray(dataOffset, this.length), {
        info: true,
        // An output buffer of exactly the object's size: the default (16 KiB) costs more than the inflate for small objects.
        chunkSize: Math.max(64, size),
        finishFlush: constants.Z_FINISH,
      }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
      if (result.buffer.length !== size) {
        throw new ProtocolError('pack entry inflates to the wrong size', { data: { offset: dataOffset, expected: size, actual: result.buffer.length } });
      }
      return { data: result.buffer, consumed: result.engine.bytesWritten };
    } catch (error) {
      if ((error as { code?: string }).code === 'Z_BUF_ERROR' && !this.finished) return undefined;
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError('pack entry is not valid zlib data', { cause: error, data: { offset: dataOffset } });
    }
  }

  private hashUpTo(end: number): void {
    if (end > this.hashed) {
      this.packHash.update(this.buffer.subarray(this.hashed, end));
      this.hashed = end;
    }
  }

  private dataOf(entry: Entry): Buffer {
    return this.inflate(entry.dataOffset, entry.size)!.data;
  }

  /** Resolves the deltas whose base came after them (REF_DELTA), as far as their bases allow. */
  private resolveDeltas(): void {
    let pending = this.deferred.splice(0);
    while (pending.length > 0) {
      const waiting: Entry[] = [];
      for (const entry of pending) {
        const base = this.baseOf(entry);
        if (base?.oid === undefined) waiting.push(entry);
        else this.resolveDelta(entry, this.contentOf(base), this.dataOf(entry));
      }
      if (waiting.length === pending.length) {
        throw new ProtocolError('pack has deltas whose base is not in the pack (a thin pack?)', {
          data: { unresolved: waiting.length, firstBase: waiting[0]?.base },
        });
      }
      pending = waiting;
    }
    this.cache.clear();
  }
}
