import { ProtocolError } from '../errors/index.ts';

/** A flush packet (`0000`). */
export const FLUSH = null;
export type PktLine = Buffer | typeof FLUSH;

/** Encodes one pkt-line: four hex digits of length, then the payload. */
export function encodePktLine(payload: string | Buffer): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length > 65516) throw new ProtocolError('pkt-line payload too long', { data: { length: body.length } });
  return Buffer.concat([Buffer.from((body.length + 4).toString(16).padStart(4, '0'), 'ascii'), body]);
}

export function encodeFlush(): Buffer {
  return Buffer.from('0000', 'ascii');
}

/** Splits a whole buffer of pkt-lines; flush packets come back as null. */
export function decodePktLines(buffer: Buffer): PktLine[] {
  const lines: PktLine[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const header = buffer.toString('latin1', offset, offset + 4);
    // Exactly four hex digits: parseInt alone accepts '-004', '+00a' and '0x0a', and a negative
    // length would move the offset backwards (a hostile stream could loop forever).
    const length = /^[0-9a-fA-F]{4}$/.test(header) ? Number.parseInt(header, 16) : Number.NaN;
    if (!Number.isInteger(length) || (length > 0 && length < 4) || offset + Math.max(length, 4) > buffer.length) {
      throw new ProtocolError('malformed pkt-line', { data: { offset } });
    }
    if (length === 0) {
      lines.push(FLUSH);
      offset += 4;
    } else {
      lines.push(buffer.subarray(offset + 4, offset + length));
      offset += length;
    }
  }
  return lines;
}

/** How many pkt-lines (flushes included) a buffer holds, counted without decoding them; stops counting past `limit`. */
export function countPktLines(buffer: Buffer, limit: number): number {
  let count = 0;
  for (let offset = 0; offset + 4 <= buffer.length && count <= limit; count++) {
    const length = Number.parseInt(buffer.toString('latin1', offset, offset + 4), 16);
    offset += Number.isInteger(length) && length >= 4 ? length : 4;
  }
  return count;
}

/** One packet of a protocol v2 request, as `splitPackets` answers it. */
export interface Packet {
  /** The packet as sent, length included. */
  readonly raw: Buffer;
  /** The payload without its newline; undefined for flush, delimiter and response-end packets. */
  readonly text?: string;
}

/**
 * Splits a protocol v2 request into its packets, delimiters (`0001`) included, which
 * decodePktLines refuses; undefined when it is not well-formed pkt-lines (the caller lets the
 * full parser give the error).
 */
export function splitPackets(body: Buffer): Packet[] | undefined {
  const result: Packet[] = [];
  for (let offset = 0; offset < body.length; ) {
    const header = body.toString('latin1', offset, offset + 4);
    if (!/^[0-9a-f]{4}$/.test(header)) return undefined;
    const length = Number.parseInt(header, 16);
    if (length < 4) {
      result.push({ raw: body.subarray(offset, offset + 4) });
      offset += 4;
      continue;
    }
    if (offset + length > body.length) return undefined;
    result.push({ raw: body.subarray(offset, offset + length), text: body.toString('utf8', offset + 4, offset + length).replace(/\n$/, '') });
    offset += length;
  }
  return result;
}
