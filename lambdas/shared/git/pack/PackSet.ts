import { createHash } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import { ProtocolError } from '../../errors/index.ts';
import { applyDelta } from './applyDelta.ts';
import { BufferPackBytes, isPackBytes, type PackBytes } from './PackBytes.ts';
import { PackIndex } from './PackIndex.ts';
import { readEntryHeader, TYPE_NAMES, type EntryHeader, type ObjectType } from './readEntryHeader.ts';

/** An object read from a pack: its type and whole content. */
export interface GitObject {
  readonly type: ObjectType;
  readonly data: Buffer;
}

/** Where an object's entry is: which pack, and its bytes there. */
export interface EntryLocation {
  readonly pack: number;
  readonly offset: number;
  /** Where the next entry (or the pack's checksum) starts: the entry's bytes are `[offset, end)`. */
  readonly end: number;
  readonly header: EntryHeader;
}

interface LoadedPack {
  readonly bytes: PackBytes;
  readonly index: PackIndex;
  /** The pack's checksum (hex): its name, so cached contents can be shared by every set that holds it. */
  readonly id: string;
  /** Entry offsets in pack order, and beside each the id-order position of its object. */
  readonly sortedOffsets: Float64Array;
  readonly positions: Uint32Array;
}

/** Most whole-object content kept for delta bases and repeated reads. */
const DEFAULT_CACHE_BYTES = 32 * 2 ** 20;
/** Longest entry header: a type-and-size varint and an OFS distance, or a REF_DELTA's 20-byte id. */
const HEADER_WINDOW = 64;

/** Entry offsets in pack order, and beside each the id-order position of its object. */
interface PackOrder {
  readonly sortedOffsets: Float64Array;
  readonly positions: Uint32Array;
}

/**
 * Orders computed per index, kept as long as the index itself is (the endpoint keeps indexes
 * between requests): a new pack set after a sync reuses the order of every pack it already had.
 */
const orders = new WeakMap<Buffer, PackOrder>();

/**
 * The pack order of an index's objects. Each object becomes one number, its offset shifted left
 * past its id-order position, so a native sort (no comparator) orders them and the low bits give
 * the position back; a pack too large for that within 2^53 is sorted with a comparator.
 */
function packOrder(idx: Buffer, index: PackIndex): PackOrder {
  const known = orders.get(idx);
  if (known !== undefined) return known;
  const { count } = index;
  const offsets = new Float64Array(count);
  let largest = 0;
  for (let position = 0; position < count; position++) {
    offsets[position] = index.offsetAt(position);
    largest = Math.max(largest, offsets[position]!);
  }
  const scale = 2 ** Math.max(1, Math.ceil(Math.log2(count + 1)));
  const positions = new Uint32Array(count);
  if ((largest + 1) * scale <= Number.MAX_SAFE_INTEGER) {
    const keys = new Float64Array(count);
    for (let position = 0; position < count; position++) keys[position] = offsets[position]! * scale + position;
    keys.sort();
    for (let slot = 0; slot < count; slot++) positions[slot] = keys[slot]! % scale;
  } else {
    const order = Array.from({ length: count }, (_, position) => position).sort((a, b) => offsets[a]! - offsets[b]!);
    positions.set(order);
  }
  const sortedOffsets = Float64Array.from(positions, (position) => offsets[position]!);
  const order = { sortedOffsets, positions };
  orders.set(idx, order);
  return order;
}

/**
 * Whole-object contents by pack and offset, least recently used out. Packs are named by their
 * content and never change, so one cache can serve every pack set of an instance: the set a
 * fetch reads after a sync (one new pack beside the old ones) starts with what the last set read.
 */
export class ObjectCache {
  private readonly entries = new Map<string, GitObject>();
  private bytes = 0;

  constructor(readonly maxBytes = DEFAULT_CACHE_BYTES) {}

  /** Bytes held now (tests and metrics). */
  get cachedBytes(): number {
    return this.bytes;
  }

  get(key: string): GitObject | undefined {
    const cached = this.entries.get(key);
    if (cached === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, cached);
    return cached;
  }

  set(key: string, object: GitObject): void {
    // One big object would push out everything else.
    if (object.data.length > this.maxBytes / 4 || this.entries.has(key)) return;
    this.entries.set(key, object);
    this.bytes += object.data.length;
    for (const [oldest, value] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= value.data.length;
    }
  }
}

/**
 * A repository's packs with their indexes (the indexes in memory, the packs in memory or read
 * by range from a file), for reading objects by id: delta
 * chains are resolved (OFS and REF), with a bounded cache of recent contents as git keeps one.
 * It also answers where each object's raw entry is, so a new pack can reuse stored bytes.
 */
export class PackSet {
  private readonly packs: LoadedPack[];
  private readonly cache: ObjectCache;

  /** `cache`: contents shared with other sets (a number: a cache of this many bytes for this set alone). */
  constructor(packs: readonly { readonly pack: Buffer | PackBytes; readonly idx: Buffer }[], cache: ObjectCache | number = DEFAULT_CACHE_BYTES) {
    this.cache = typeof cache === 'number' ? new ObjectCache(cache) : cache;
    this.packs = packs.map(({ pack: stored, idx }) => {
      const pack = isPackBytes(stored) ? stored : new BufferPackBytes(stored);
      const index = new PackIndex(idx);
      if (pack.length < 32 || !pack.read(pack.length - 20, pack.length).equals(index.packChecksum)) {
        throw new ProtocolError('pack does not match its index', { data: { bytes: pack.length } });
      }
      return { bytes: pack, index, id: index.packChecksum.toString('hex'), ...packOrder(idx, index) };
    });
  }

  /** Objects in all packs, counting an object twice when two packs hold it. */
  get objectCount(): number {
    return this.packs.reduce((sum, pack) => sum + pack.index.count, 0);
  }

  /** Whether two packs hold the same object (one pack must not repeat an object). */
  holdsDuplicates(): boolean {
    if (this.packs.length < 2) return false;
    const seen = new Set<string>();
    for (const pack of this.packs) {
      for (let position = 0; position < pack.index.count; position++) {
        const id = pack.index.oidAt(position).toString('latin1');
        if (seen.has(id)) return true;
        seen.add(id);
      }
    }
    return false;
  }

  /**
   * Every object of every pack as one pack, with the stored bytes as they are (OFS deltas stay
   * valid: each pack's entries keep their relative places), read and handed on in chunks of
   * `chunkBytes`, so memory holds one chunk whatever the packs' size. The packs must not share
   * an object (see `holdsDuplicates`).
   */
  *concatenatedChunks(chunkBytes = 1 << 20): Generator<Buffer> {
    if (this.packs.length === 1) {
      const { bytes } = this.packs[0]!;
      for (let offset = 0; offset < bytes.length; offset += chunkBytes) yield bytes.read(offset, Math.min(bytes.length, offset + chunkBytes));
      return;
    }
    const header = Buffer.alloc(12);
    header.write('PACK', 0, 'latin1');
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(this.objectCount, 8);
    const hash = createHash('sha1').update(header);
    yield header;
    for (const { bytes } of this.packs) {
      for (let offset = 12; offset < bytes.length - 20; offset += chunkBytes) {
        const chunk = bytes.read(offset, Math.min(bytes.length - 20, offset + chunkBytes));
        hash.update(chunk);
        yield chunk;
      }
    }
    yield hash.digest();
  }

  /** The packs as one, in memory (tests, small packs); undefined when two packs hold the same object. */
  concatenated(): Buffer | undefined {
    if (this.holdsDuplicates()) return undefined;
    return Buffer.concat([...this.concatenatedChunks()]);
  }

  has(oid: Buffer): boolean {
    return this.packs.some((pack) => pack.index.find(oid) !== undefined);
  }

  /** Where the object's entry is, or undefined when no pack holds it. */
  locate(oid: Buffer): EntryLocation | undefined {
    for (let pack = 0; pack < this.packs.length; pack++) {
      const offset = this.packs[pack]!.index.find(oid);
      if (offset !== undefined) return this.entryAt(pack, offset);
    }
    return undefined;
  }

  /** The id of the object whose entry starts at `offset` in pack `pack`. */
  oidAt(pack: number, offset: number): Buffer {
    const loaded = this.packs[pack]!;
    const slot = this.slotOf(loaded, offset);
    return loaded.index.oidAt(loaded.positions[slot]!);
  }

  /** The whole object; throws when no pack holds it. */
  read(oid: Buffer): GitObject {
    const location = this.locate(oid);
    if (location === undefined) throw new ProtocolError('object not in any pack', { data: { oid: oid.toString('hex') } });
    return this.readAt(location);
  }

  /** The raw bytes of an entry, as stored. */
  rawEntry(location: EntryLocation): Buffer {
    return this.packs[location.pack]!.bytes.read(location.offset, location.end);
  }

  /** The entry's data, inflated (for a delta: the delta itself). */
  inflateEntry(location: EntryLocation): Buffer {
    // Output sized to the entry: no 16 KiB default buffer per small object, no chunks to join for a big one.
    const data = inflateSync(this.packs[location.pack]!.bytes.read(location.header.dataOffset, location.end), { chunkSize: Math.max(64, location.header.size + 1) });
    if (data.length !== location.header.size) {
      throw new ProtocolError('pack entry inflates to the wrong size', { data: { offset: location.offset, expected: location.header.size, actual: data.length } });
    }
    return data;
  }

  private readAt(location: EntryLocation): GitObject {
    const key = `${this.packs[location.pack]!.id}:${location.offset}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const { header } = location;
    const data = this.inflateEntry(location);
    let object: GitObject;
    const type = TYPE_NAMES[header.type];
    if (type !== undefined) {
      object = { type, data };
    } else {
      const base =
        header.baseOffset !== undefined
          ? this.readAt(this.entryAt(location.pack, header.baseOffset))
          : this.read(header.baseOid!);
      object = { type: base.type, data: applyDelta(base.data, data) };
    }
    this.cache.set(key, object);
    return object;
  }

  private entryAt(pack: number, offset: number): EntryLocation {
    const loaded = this.packs[pack]!;
    const slot = this.slotOf(loaded, offset);
    const end = slot + 1 < loaded.sortedOffsets.length ? loaded.sortedOffsets[slot + 1]! : loaded.bytes.length - 20;
    const window = loaded.bytes.read(offset, Math.min(end, offset + HEADER_WINDOW));
    const header = readEntryHeader(window, offset, offset + window.length, offset);
    if (header === undefined) throw new ProtocolError('pack entry is truncated', { data: { offset } });
    return { pack, offset, end, header };
  }

  /** The position of the entry starting at `offset` in pack order; throws when no entry starts there. */
  private slotOf(loaded: LoadedPack, offset: number): number {
    let low = 0;
    let high = loaded.sortedOffsets.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const value = loaded.sortedOffsets[middle]!;
      if (value === offset) return middle;
      if (value < offset) low = middle + 1;
      else high = middle - 1;
    }
    throw new ProtocolError('no pack entry starts at this offset', { data: { offset } });
  }
}
