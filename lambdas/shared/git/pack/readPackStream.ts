import { ProtocolError } from '../../errors/index.ts';

const MAX_PACKET = 65520;

/**
 * Reads a protocol-v1 upload-pack response as it streams in, and yields the pack's bytes:
 * the negotiation lines (ACK/NAK, shallow) are skipped, then side-band packets are split
 * into the pack (band 1), progress (band 2, dropped) and an error (band 3, thrown). With
 * no side-band, whatever follows the negotiation is the pack itself. Chunks are yielded
 * as views of the input, with no copy.
 */
export async function* readPackStream(body: AsyncIterable<Uint8Array>, options: { sideBand: boolean }): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  let inPack = false;
  let raw = false;
  for await (const chunk of body) {
    if (raw) {
      yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      continue;
    }
    pending = pending.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([pending, chunk]);
    let offset = 0;
    while (offset + 4 <= pending.length) {
      const header = pending.toString('latin1', offset, offset + 4);
      const length = /^[0-9a-f]{4}$/i.test(header) ? Number.parseInt(header, 16) : Number.NaN;
      if (Number.isNaN(length) || (length > 0 && length < 4) || length > MAX_PACKET + 4) {
        throw new ProtocolError('malformed pkt-line in the upload-pack response', { data: { offset, header: JSON.stringify(header) } });
      }
      if (length === 0) {
        // A flush: the end of the response once the pack has started.
        offset += 4;
        if (inPack) return;
        continue;
      }
      if (offset + length > pending.length) break;
      const payload = pending.subarray(offset + 4, offset + length);
      offset += length;
      const first = payload[0]!;
      if (!inPack && first !== 1 && first !== 2 && first !== 3) {
        const text = payload.toString('utf8').trimEnd();
        if (text.startsWith('ERR ')) throw new ProtocolError(`primary refused the fetch: ${text.slice(4)}`);
        if (/^(ACK |NAK|shallow |unshallow )/.test(text)) {
          if (!options.sideBand && /^(ACK [0-9a-f]{40}$|NAK)/.test(text)) {
            // Without side-band, the pack follows the final ACK/NAK directly.
            raw = true;
            if (offset < pending.length) yield pending.subarray(offset);
            pending = Buffer.alloc(0);
            break;
          }
          continue;
        }
        throw new ProtocolError('unexpected line in the upload-pack response', { data: { line: text.slice(0, 100) } });
      }
      inPack = true;
      if (first === 1) yield payload.subarray(1);
      else if (first === 3) throw new ProtocolError(`primary failed while sending the pack: ${payload.subarray(1).toString('utf8').trim().slice(0, 500)}`);
    }
    if (!raw) pending = pending.subarray(offset);
  }
  if (!raw && pending.length > 0) throw new ProtocolError('upload-pack response ended inside a packet');
  if (!raw && !inPack) throw new ProtocolError('upload-pack response had no pack');
}
