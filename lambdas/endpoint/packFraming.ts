import { createHash } from 'node:crypto';
import { encodeFlush, encodePktLine } from '../shared/git/pktLine.ts';

/** How a pack travels in an upload-pack answer: side-band packets of 64 KB or 1000 bytes, or raw (v0 without side-band). */
export type SideBandMode = 'side-band-64k' | 'side-band' | 'none';

/** Payload of a side-band packet less its band byte: a 65520-byte packet, or 1000 bytes with the old `side-band`. */
const DATA_BYTES: Readonly<Record<Exclude<SideBandMode, 'none'>, number>> = { 'side-band-64k': 65515, 'side-band': 995 };

export interface PackFramingOptions {
  readonly mode: SideBandMode;
  /**
   * Most pack bytes one answer carries (a streamed Lambda response stops at 200 MB). Past it the
   * answer ends with `message` on side-band 3, which git prints and stops on; raw packs just end.
   */
  readonly maxBytes?: number;
  readonly message?: string;
}

/** Turns chunks of a pack into the packets that carry it, a flush at the end. */
class PackFramer {
  private pending: Buffer = Buffer.alloc(0);
  private bytes = 0;
  stopped = false;

  constructor(private readonly options: PackFramingOptions) {}

  push(chunk: Buffer): Buffer[] {
    this.bytes += chunk.length;
    if (this.options.maxBytes !== undefined && this.bytes > this.options.maxBytes) {
      this.stopped = true;
      if (this.options.mode === 'none') return [];
      const message = this.options.message ?? `the pack is larger than this region sends through Lambda (${this.options.maxBytes} bytes)`;
      return [encodePktLine(Buffer.concat([Buffer.from([3]), Buffer.from(`${message}\n`, 'utf8')]))];
    }
    if (this.options.mode === 'none') return [chunk];
    const size = DATA_BYTES[this.options.mode];
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const packets: Buffer[] = [];
    while (this.pending.length >= size) {
      packets.push(band1(this.pending.subarray(0, size)));
      this.pending = this.pending.subarray(size);
    }
    return packets;
  }

  end(): Buffer[] {
    if (this.options.mode === 'none') return [];
    const packets = this.pending.length > 0 ? [band1(this.pending)] : [];
    this.pending = Buffer.alloc(0);
    return [...packets, encodeFlush()];
  }
}

function band1(data: Buffer): Buffer {
  return encodePktLine(Buffer.concat([Buffer.from([1]), data]));
}

/** A pack's chunks framed for the answer, as they are written: memory holds one chunk. */
export function* framePack(chunks: Iterable<Buffer>, options: PackFramingOptions): Generator<Buffer> {
  const framer = new PackFramer(options);
  for (const chunk of chunks) {
    yield* framer.push(chunk);
    if (framer.stopped) return;
  }
  yield* framer.end();
}

/** `framePack` for a pack streamed from the store. */
export async function* framePackAsync(chunks: AsyncIterable<Buffer>, options: PackFramingOptions): AsyncGenerator<Buffer> {
  const framer = new PackFramer(options);
  for await (const chunk of chunks) {
    yield* framer.push(chunk);
    if (framer.stopped) return;
  }
  yield* framer.end();
}

/** A pack with no objects: what the `packfile` section carries when every object goes by URI. */
export function emptyPack(): Buffer {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  return Buffer.concat([header, createHash('sha1').update(header).digest()]);
}
