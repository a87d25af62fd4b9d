import { ProtocolError } from '../../errors/index.ts';

const MAGIC = 0xff744f63;
const LARGE_OFFSET = 0x80000000;

/**
 * A pack index, version 2, read in place: object ids are found by binary search within
 * their fan-out bucket, so opening one costs nothing per object.
 */
export class PackIndex {
  readonly count: number;
  private readonly oidsStart = 8 + 256 * 4;
  private readonly crcStart: number;
  private readonly offsetStart: number;
  private readonly largeStart: number;

  constructor(private readonly idx: Buffer) {
    if (idx.length < 8 + 256 * 4 + 40 || idx.readUInt32BE(0) !== MAGIC || idx.readUInt32BE(4) !== 2) {
      throw new ProtocolError('not a version 2 pack index', { data: { bytes: idx.length } });
    }
    this.count = idx.readUInt32BE(8 + 255 * 4);
    this.crcStart = this.oidsStart + this.count * 20;
    this.offsetStart = this.crcStart + this.count * 4;
    this.largeStart = this.offsetStart + this.count * 4;
    if (idx.length < this.largeStart + 40) throw new ProtocolError('pack index is truncated', { data: { bytes: idx.length, objects: this.count } });
  }

  /** The checksum of the pack this index describes. */
  get packChecksum(): Buffer {
    return this.idx.subarray(this.idx.length - 40, this.idx.length - 20);
  }

  /** The id of the `index`-th object in id order. */
  oidAt(index: number): Buffer {
    return this.idx.subarray(this.oidsStart + index * 20, this.oidsStart + index * 20 + 20);
  }

  /** Where the `index`-th object (in id order) starts in the pack. */
  offsetAt(index: number): number {
    const value = this.idx.readUInt32BE(this.offsetStart + index * 4);
    if ((value & LARGE_OFFSET) === 0) return value;
    return Number(this.idx.readBigUInt64BE(this.largeStart + (value & 0x7fffffff) * 8));
  }

  crcAt(index: number): number {
    return this.idx.readUInt32BE(this.crcStart + index * 4);
  }

  /** The object's offset in the pack, or undefined when the pack does not hold it. */
  find(oid: Buffer): number | undefined {
    const first = oid[0]!;
    let low = first === 0 ? 0 : this.idx.readUInt32BE(8 + (first - 1) * 4);
    let high = this.idx.readUInt32BE(8 + first * 4) - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      // Compared in place: no Buffer view made per step of the search.
      const start = this.oidsStart + middle * 20;
      const order = this.idx.compare(oid, 0, 20, start, start + 20);
      if (order === 0) return this.offsetAt(middle);
      if (order < 0) low = middle + 1;
      else high = middle - 1;
    }
    return undefined;
  }
}
