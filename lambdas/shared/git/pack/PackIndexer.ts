import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { constants, crc32, inflateSync } from 'node:zlib';
import { ProtocolError } from '../../errors/index.ts';
import type { PackFiles } from '../PackFiles.ts';
import { applyDelta } from './applyDelta.ts';
import { packIndexV2 } from './packIndexV2.ts';
import { OFS_DELTA, readEntryHeader, REF_DELTA, TYPE_NAMES, type ObjectType } from './readEntryHeader.ts';

/** A pack's header declares its object count; this many at most (4 billion minus one, as git's 32-bit count allows). */
const MAX_OBJECTS = 0xffffffff;

/** A pack's whole content, its index, and how many objects it holds. */
export interface IndexedPack extends PackFiles {
  readonly pack: Buffer;
  readonly idx: Buffer;
  readonly objectCount: number;
}

/** A pack spooled to a local file as it streamed in, with its index (held in memory: 28 bytes or so per object). */
export interface SpooledPack {
  readonly name: string;
  readonly packPath: string;
  readonly packSize: number;
  readonly idx: Buffer;
  readonly objectCount: number;
  /** Blobs the caller asked to keep aside (`keepBlob`), for steps that read them after the pack is stored. */
  readonly keptBlobs?: readonly { readonly oid: Buffer; readonly content: Buffer }[];
}

export interface PackIndexerOptions {
  /** The most object content kept for delta bases. @default 8 MiB (32 MiB when spooling) */
  readonly cacheBytes?: number;
  /** Sees every object's type, id and content once it is known (deep verification reads the links this way). */
  readonly onObject?: (type: ObjectType, oid: Buffer, content: Buffer) => void;
  /**
   * Spool the pack to this file instead of holding it: memory then no longer grows with the pack,
   * only with the largest entry (the window holds the entry being parsed) and the object count.
   */
  readonly spoolPath?: string;
}

/** What one inflate told us: the data, and how many compressed bytes it took. */
interface Inflated {
  readonly data: Buffer;
  readonly consumed: number;
}

/**
 * Indexes a git pack with Node's native zlib and SHA-1, as `git index-pack` does, while it
 * streams in: `write` takes the pack chunk by chunk and parses every entry whose bytes have
 * all arrived, so the work overlaps the download. Deltas are resolved as they arrive too: an
 * OFS_DELTA's base always comes before it, and a cache of recent contents (like git's delta
 * base cache) means most bases are never inflated twice. `finish` resolves the REF_DELTAs
 * whose base came later, checks the pack's checksum and writes a v2 index that is byte for
 * byte what git writes.
 *
 * Memory: the pack is held once, in one buffer grown by half each time; per object, a few
 * typed-array slots sized from the pack's header (no object per entry); the base cache is
 * bounded. A thin pack (a delta whose base is not in the pack) is refused: git-geo never
 * asks for one.
 */
export class PackIndexer {
  /** Received bytes from `windowStart` on; when spooling, the bytes before the current entry are dropped from it. */
  private buffer = Buffer.allocUnsafe(64 * 1024);
  private windowStart = 0;
  /** Bytes received in all (the absolute end of the window). */
  private length = 0;
  private readonly spoolPath: string | undefined;
  private spool: number | undefined;
  private readonly cacheBytes: number;
  private readonly onObject: ((type: ObjectType, oid: Buffer, content: Buffer) => void) | undefined;
  private count = -1;
  private parsed = 0;
  /** Where the next entry starts. */
  private offset = 12;
  /** Don't try the next entry again until this many bytes are in (a big object's data arrives over many chunks). */
  private retryAt = 0;
  private finished = false;
  private readonly packHash: Hash = createHash('sha1');
  private hashed = 0;

  // One slot per entry, in pack order (so offsets are sorted).
  private offsets = new Float64Array(0);
  private dataOffsets = new Float64Array(0);
  private sizes = new Float64Array(0);
  /** 1-4: the object's type (a delta takes its base's once resolved); 0 while a delta is unresolved. */
  private types = new Uint8Array(0);
  private crcs = new Uint32Array(0);
  /** OFS_DELTA: the base's entry; -1 for whole objects and REF_DELTAs. */
  private ofsBases = new Int32Array(0);
  private oids = Buffer.alloc(0);
  /** REF_DELTA entries and their base's id (hex); git's upload-pack sends none when ofs-delta is on. */
  private readonly refBases = new Map<number, string>();
  /** Entries by id (hex), kept only once a REF_DELTA has been seen. */
  private byOid: Map<string, number> | undefined;
  /** Deltas whose base is not resolved yet (a REF_DELTA whose base comes later). */
  private readonly deferred: number[] = [];
  /** Recently used object contents by entry, least recently used first. */
  private readonly cache = new Map<number, Buffer>();
  private cachedBytes = 0;

  /**
   * @param options.cacheBytes the most object content kept for delta bases: small, so memory stays near the pack size (measured: no slower than 32 MiB).
   *   A number is taken as `cacheBytes` (the in-memory indexer's original signature).
   */
  constructor(options: PackIndexerOptions | number = {}, onObject?: (type: ObjectType, oid: Buffer, content: Buffer) => void) {
    const settings = typeof options === 'number' ? { cacheBytes: options } : options;
    this.spoolPath = settings.spoolPath;
    this.cacheBytes = settings.cacheBytes ?? (settings.spoolPath === undefined ? 8 : 32) * 2 ** 20;
    this.onObject = settings.onObject ?? onObject;
    if (this.spoolPath !== undefined) this.spool = openSync(this.spoolPath, 'w+');
  }

  /** Objects the pack declares (undefined until its header has arrived). */
  get objectCount(): number | undefined {
    return this.count < 0 ? undefined : this.count;
  }

  get receivedBytes(): number {
    return this.length;
  }

  write(chunk: Uint8Array): void {
    if (this.finished) throw new Error('PackIndexer: write after finish');
    if (this.spool !== undefined) {
      for (let written = 0; written < chunk.length; ) written += writeSync(this.spool, chunk, written, chunk.length - written);
      // Bytes before the current entry are hashed and spooled: only the entry being parsed stays in memory.
      const keepFrom = Math.min(this.offset, this.hashed);
      if (keepFrom - this.windowStart > 0 && keepFrom - this.windowStart >= (this.length - this.windowStart) / 2) {
        const kept = this.length - keepFrom;
        // A big entry grew the window; give the memory back once it is behind us.
        const target = this.buffer.length > 4 * 2 ** 20 && kept + chunk.length < this.buffer.length / 4 ? Buffer.allocUnsafe(Math.max(1 << 20, 2 * (kept + chunk.length))) : this.buffer;
        this.buffer.copy(target, 0, keepFrom - this.windowStart, this.length - this.windowStart);
        this.buffer = target;
        this.windowStart = keepFrom;
      }
    }
    const used = this.length - this.windowStart;
    if (used + chunk.length > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(Math.ceil(this.buffer.length * 1.5), used + chunk.length));
      this.buffer.copy(grown, 0, 0, used);
      this.buffer = grown;
    }
    this.buffer.set(chunk, used);
    this.length += chunk.length;
    if (this.length >= this.retryAt) this.parse();
  }

  /** Stops early (a failed download): the spool file is removed. */
  abort(): void {
    this.finished = true;
    this.closeSpool();
    if (this.spoolPath !== undefined) rmSync(this.spoolPath, { force: true });
  }

  /** Pack bytes [start, end): a view of the window, or read back from the spool. */
  private bytes(start: number, end: number): Buffer {
    if (start >= this.windowStart) return this.buffer.subarray(start - this.windowStart, end - this.windowStart);
    const out = Buffer.allocUnsafe(end - start);
    for (let read = 0; read < out.length; ) {
      const n = readSync(this.spool!, out, read, out.length - read, start + read);
      if (n === 0) throw new ProtocolError('pack spool ended early', { data: { start, end } });
      read += n;
    }
    return out;
  }

  /** Where entry `entry`'s bytes end: where the next one starts. */
  private entryEnd(entry: number): number {
    const next = entry + 1 < this.offsets.length ? this.offsets[entry + 1]! : 0;
    return next > this.offsets[entry]! ? next : this.offset;
  }

  private closeSpool(): void {
    if (this.spool !== undefined) closeSync(this.spool);
    this.spool = undefined;
  }

  /** Every byte is in: checks the pack and answers it with its index. */
  finish(): IndexedPack {
    if (this.spoolPath !== undefined) throw new Error('PackIndexer: a spooling indexer finishes with finishToFile()');
    const { name, idx } = this.complete();
    return { name, pack: this.buffer.subarray(0, this.length), idx, objectCount: this.count };
  }

  /** Every byte is in: checks the pack, closes its spool file and answers where it is, with its index. */
  finishToFile(): SpooledPack {
    if (this.spoolPath === undefined) throw new Error('PackIndexer: finishToFile() needs a spool path');
    try {
      const { name, idx } = this.complete();
      return { name, packPath: this.spoolPath, packSize: this.length, idx, objectCount: this.count };
    } catch (error) {
      this.abort();
      throw error;
    } finally {
      this.closeSpool();
    }
  }

  private complete(): { name: string; idx: Buffer } {
    this.finished = true;
    this.parse();
    if (this.count < 0) throw new ProtocolError('pack ended before its header', { data: { bytes: this.length } });
    if (this.length !== this.offset + 20) throw new ProtocolError('pack has bytes after its checksum', { data: { expected: this.offset + 20, actual: this.length } });
    this.hashUpTo(this.offset);
    const checksum = this.packHash.digest();
    const trailer = this.bytes(this.offset, this.offset + 20);
    if (!checksum.equals(trailer)) throw new ProtocolError('pack checksum mismatch', { data: { computed: checksum.toString('hex'), trailer: trailer.toString('hex') } });
    this.resolveDeferred();
    this.cache.clear();
    this.cachedBytes = 0;
    const idx = packIndexV2({ count: this.count, oids: this.oids, offsets: this.offsets, crcs: this.crcs }, Buffer.from(checksum));
    return { name: `pack-${checksum.toString('hex')}`, idx };
  }

  private parse(): void {
    if (this.count < 0) {
      if (this.length < 12) {
        if (this.finished) throw new ProtocolError('pack ended before its header', { data: { bytes: this.length } });
        return;
      }
      const header = this.bytes(0, 12);
      if (header.toString('latin1', 0, 4) !== 'PACK') throw new ProtocolError('not a pack (no PACK signature)');
      const version = header.readUInt32BE(4);
      if (version !== 2 && version !== 3) throw new ProtocolError('unsupported pack version', { data: { version } });
      this.allocate(header.readUInt32BE(8));
    }
    while (this.parsed < this.count) {
      if (!this.parseEntry(this.parsed, this.offset)) {
        if (this.finished) throw new ProtocolError('pack ended early', { data: { objects: this.count, parsed: this.parsed, bytes: this.length } });
        // Wait for at least as many new bytes as this entry already has, so a large object costs O(n), not O(n^2).
        this.retryAt = this.length + Math.max(1, this.length - this.offset);
        this.hashUpTo(this.offset);
        return;
      }
      this.parsed++;
    }
    this.retryAt = Number.POSITIVE_INFINITY;
    this.hashUpTo(this.offset);
  }

  private allocate(count: number): void {
    if (count > MAX_OBJECTS) throw new ProtocolError('pack declares too many objects', { data: { count } });
    // A hostile header cannot make us allocate much: every entry takes at least two bytes of pack.
    const slots = Math.min(count, 1 << 20);
    this.count = count;
    this.offsets = new Float64Array(slots);
    this.dataOffsets = new Float64Array(slots);
    this.sizes = new Float64Array(slots);
    this.types = new Uint8Array(slots);
    this.crcs = new Uint32Array(slots);
    this.ofsBases = new Int32Array(slots);
    this.oids = Buffer.alloc(slots * 20);
  }

  /** Makes room for entry `entry` when the header's count was larger than what was allocated up front. */
  private reserve(entry: number): void {
    if (entry < this.offsets.length) return;
    const slots = Math.min(this.count, this.offsets.length * 2);
    const grow = <T extends Float64Array | Uint8Array | Uint32Array | Int32Array>(from: T, make: (n: number) => T): T => {
      const to = make(slots);
      to.set(from);
      return to;
    };
    this.offsets = grow(this.offsets, (n) => new Float64Array(n));
    this.dataOffsets = grow(this.dataOffsets, (n) => new Float64Array(n));
    this.sizes = grow(this.sizes, (n) => new Float64Array(n));
    this.types = grow(this.types, (n) => new Uint8Array(n));
    this.crcs = grow(this.crcs, (n) => new Uint32Array(n));
    this.ofsBases = grow(this.ofsBases, (n) => new Int32Array(n));
    const oids = Buffer.alloc(slots * 20);
    this.oids.copy(oids);
    this.oids = oids;
  }

  /** Parses entry `entry` at `start`; false when its bytes have not all arrived. */
  private parseEntry(entry: number, start: number): boolean {
    const header = readEntryHeader(this.buffer, start, this.length, this.windowStart);
    if (header === undefined) return false;
    const { type, size } = header;
    const position = header.dataOffset;
    const baseOffset = header.baseOffset;
    const ofsBase = baseOffset === undefined ? -1 : this.entryAt(baseOffset);
    if (baseOffset !== undefined && ofsBase < 0) throw new ProtocolError('pack delta does not point at an entry before it', { data: { offset: start } });
    const refBase = header.baseOid?.toString('hex');
    const inflated = this.inflate(this.bytes(position, this.length), position, size, !this.finished);
    if (inflated === undefined) return false;
    this.reserve(entry);
    this.offsets[entry] = start;
    this.dataOffsets[entry] = position;
    this.sizes[entry] = size;
    this.ofsBases[entry] = ofsBase;
    this.offset = position + inflated.consumed;
    this.crcs[entry] = crc32(this.bytes(start, this.offset));
    if (refBase !== undefined) {
      this.refBases.set(entry, refBase);
      this.indexByOid();
    }
    if (type !== OFS_DELTA && type !== REF_DELTA) {
      this.types[entry] = type;
      this.resolved(entry, inflated.data);
      return true;
    }
    const base = this.baseOf(entry);
    if (base === undefined || this.types[base] === 0) this.deferred.push(entry);
    else this.resolveDelta(entry, base, inflated.data);
    return true;
  }

  /** The entry that starts at `offset` (entries are in offset order), or -1. */
  private entryAt(offset: number): number {
    let low = 0;
    let high = this.parsed - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = this.offsets[middle]!;
      if (value === offset) return middle;
      if (value < offset) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  private baseOf(entry: number): number | undefined {
    const ofs = this.ofsBases[entry]!;
    if (ofs >= 0) return ofs;
    const ref = this.refBases.get(entry);
    return ref === undefined ? undefined : this.byOid?.get(ref);
  }

  /** The first REF_DELTA makes ids searchable: every entry resolved so far, and each one after. */
  private indexByOid(): void {
    if (this.byOid !== undefined) return;
    this.byOid = new Map();
    for (let entry = 0; entry < this.parsed; entry++) {
      if (this.types[entry] !== 0) this.byOid.set(this.oids.toString('hex', entry * 20, entry * 20 + 20), entry);
    }
  }

  /** An entry's content is known: record its id, keep the content for the deltas that may follow. */
  private resolved(entry: number, content: Buffer): void {
    const type = TYPE_NAMES[this.types[entry]!]!;
    const hash = createHash('sha1').update(`${type} ${content.length}\0`).update(content);
    const oid = hash.digest();
    oid.copy(this.oids, entry * 20);
    this.onObject?.(type, oid, content);
    this.byOid?.set(oid.toString('hex'), entry);
    this.remember(entry, content);
  }

  private resolveDelta(entry: number, base: number, delta: Buffer): void {
    const content = applyDelta(this.contentOf(base), delta);
    this.types[entry] = this.types[base]!;
    this.resolved(entry, content);
  }

  /** The content of a resolved entry: from the cache, or rebuilt from the pack (its base chain first). */
  private contentOf(entry: number): Buffer {
    const cached = this.cache.get(entry);
    if (cached !== undefined) {
      // Most recently used goes last.
      this.cache.delete(entry);
      this.cache.set(entry, cached);
      return cached;
    }
    const data = this.inflateEntry(entry);
    const base = this.ofsBases[entry]! >= 0 || this.refBases.has(entry) ? this.baseOf(entry) : undefined;
    const content = base === undefined ? data : applyDelta(this.contentOf(base), data);
    this.remember(entry, content);
    return content;
  }

  private remember(entry: number, content: Buffer): void {
    if (content.length > this.cacheBytes / 4) return;
    this.cache.set(entry, content);
    this.cachedBytes += content.length;
    for (const [oldest, value] of this.cache) {
      if (this.cachedBytes <= this.cacheBytes) break;
      this.cache.delete(oldest);
      this.cachedBytes -= value.length;
    }
  }

  /** Resolves the deltas whose base came after them, as far as their bases allow. */
  private resolveDeferred(): void {
    let pending = this.deferred.splice(0);
    while (pending.length > 0) {
      const waiting: number[] = [];
      for (const entry of pending) {
        const base = this.baseOf(entry);
        if (base === undefined || this.types[base] === 0) waiting.push(entry);
        else this.resolveDelta(entry, base, this.inflateEntry(entry));
      }
      if (waiting.length === pending.length) {
        throw new ProtocolError('pack has deltas whose base is not in the pack (a thin pack?)', {
          data: { unresolved: waiting.length, firstBase: this.refBases.get(waiting[0]!) ?? `entry ${this.ofsBases[waiting[0]!]}` },
        });
      }
      pending = waiting;
    }
  }

  /** The inflated data of a parsed entry (a delta's instructions, or a whole object's content). */
  private inflateEntry(entry: number): Buffer {
    const dataOffset = this.dataOffsets[entry]!;
    return this.inflate(this.bytes(dataOffset, this.entryEnd(entry)), dataOffset, this.sizes[entry]!, false)!.data;
  }

  /** Inflates the zlib stream at the start of `data` (pack offset `dataOffset`); undefined when `partial` and it runs past the bytes received so far. */
  private inflate(data: Buffer, dataOffset: number, size: number, partial: boolean): Inflated | undefined {
    try {
      const result = inflateSync(data, {
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
      if ((error as { code?: string }).code === 'Z_BUF_ERROR' && partial) return undefined;
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError('pack entry is not valid zlib data', { cause: error, data: { offset: dataOffset } });
    }
  }

  private hashUpTo(end: number): void {
    if (end > this.hashed) {
      this.packHash.update(this.bytes(this.hashed, end));
      this.hashed = end;
    }
  }
}
