import { ProtocolError } from '../../errors/index.ts';

/** Reads a delta header's size: 7 bits a byte, least significant first. */
function readSize(delta: Uint8Array, start: number): [size: number, next: number] {
  let size = 0;
  let shift = 0;
  let offset = start;
  for (;;) {
    const byte = delta[offset++];
    if (byte === undefined) throw new ProtocolError('truncated delta header');
    size += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) return [size, offset];
  }
}

/** Buffer.copy costs more than a loop for the short runs most deltas are made of. */
function copyBytes(from: Buffer, start: number, to: Buffer, at: number, length: number): void {
  if (length > 64) {
    from.copy(to, at, start, start + length);
    return;
  }
  for (let i = 0; i < length; i++) to[at + i] = from[start + i]!;
}

/**
 * Applies a git delta (as stored in OFS_DELTA and REF_DELTA pack entries) to its base:
 * a run of "copy from the base" and "insert these bytes" instructions. Every bound is
 * checked, so a hostile delta fails instead of reading past a buffer.
 */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  const [baseSize, afterBase] = readSize(delta, 0);
  if (baseSize !== base.length) throw new ProtocolError('delta does not fit its base', { data: { expected: baseSize, actual: base.length } });
  const [resultSize, start] = readSize(delta, afterBase);
  const result = Buffer.allocUnsafe(resultSize);
  let written = 0;
  let offset = start;
  while (offset < delta.length) {
    const op = delta[offset++]!;
    if (op & 0x80) {
      let copyOffset = 0;
      let copySize = 0;
      for (let bit = 0; bit < 4; bit++) if (op & (1 << bit)) copyOffset += delta[offset++]! * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (op & (0x10 << bit)) copySize += delta[offset++]! * 2 ** (8 * bit);
      if (copySize === 0) copySize = 0x10000;
      if (offset > delta.length || copyOffset + copySize > base.length || written + copySize > resultSize) {
        throw new ProtocolError('delta copies outside its base or result');
      }
      copyBytes(base, copyOffset, result, written, copySize);
      written += copySize;
    } else if (op !== 0) {
      if (offset + op > delta.length || written + op > resultSize) throw new ProtocolError('delta inserts past its end');
      copyBytes(delta, offset, result, written, op);
      written += op;
      offset += op;
    } else {
      throw new ProtocolError('delta has a reserved instruction (0)');
    }
  }
  if (written !== resultSize) throw new ProtocolError('delta result has the wrong size', { data: { expected: resultSize, actual: written } });
  return result;
}
