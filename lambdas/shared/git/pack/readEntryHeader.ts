import { ProtocolError } from '../../errors/index.ts';

export const OFS_DELTA = 6;
export const REF_DELTA = 7;
/** Pack type numbers of whole objects, by name. */
export const OBJECT_TYPES = { commit: 1, tree: 2, blob: 3, tag: 4 } as const;
export type ObjectType = keyof typeof OBJECT_TYPES;
export const TYPE_NAMES: readonly (ObjectType | undefined)[] = [undefined, 'commit', 'tree', 'blob', 'tag'];

/** One pack entry's header: its type, the inflated size, where its zlib data starts, and its delta base if any. */
export interface EntryHeader {
  readonly type: number;
  readonly size: number;
  readonly dataOffset: number;
  /** OFS_DELTA: the base entry's offset in the same pack. */
  readonly baseOffset?: number;
  /** REF_DELTA: the base object's id. */
  readonly baseOid?: Buffer;
}

/**
 * Reads the header of the pack entry at `start` from `buffer[0, end)`; undefined when the
 * header's bytes have not all arrived. Throws on an invalid type or a delta pointing forward.
 * `base`: the pack offset of `buffer[0]`, when the buffer is a window of the pack read at
 * `base` (offsets in and out stay the pack's).
 */
export function readEntryHeader(buffer: Uint8Array, start: number, end = buffer.length, base = 0): EntryHeader | undefined {
  let position = start;
  if (position >= end) return undefined;
  let byte = buffer[position++ - base]!;
  const type = (byte >> 4) & 7;
  let size = byte & 0x0f;
  let shift = 4;
  while (byte & 0x80) {
    if (position >= end) return undefined;
    byte = buffer[position++ - base]!;
    size += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  }
  if (type === OFS_DELTA) {
    if (position >= end) return undefined;
    byte = buffer[position++ - base]!;
    let distance = byte & 0x7f;
    while (byte & 0x80) {
      if (position >= end) return undefined;
      byte = buffer[position++ - base]!;
      distance = (distance + 1) * 128 + (byte & 0x7f);
    }
    if (distance <= 0 || distance > start) throw new ProtocolError('pack delta does not point at an entry before it', { data: { offset: start } });
    return { type, size, dataOffset: position, baseOffset: start - distance };
  }
  if (type === REF_DELTA) {
    if (position + 20 > end) return undefined;
    return { type, size, dataOffset: position + 20, baseOid: Buffer.from(buffer.subarray(position - base, position - base + 20)) };
  }
  if (TYPE_NAMES[type] === undefined) throw new ProtocolError('pack entry has an invalid type', { data: { offset: start, type } });
  return { type, size, dataOffset: position };
}
