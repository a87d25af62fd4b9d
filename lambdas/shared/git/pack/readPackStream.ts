import { ProtocolError } from '../../errors/index.ts';

const MAX_PACKET = 65520;
/** Negotiation lines and progress are short; an error message can be longer but is cut. */
const MAX_TEXT = 4096;

/**
 * Reads an upload-pack response (protocol v0/v1, or a v2 `fetch`) as it streams in, and yields the pack's bytes:
 * the negotiation lines (ACK/NAK, shallow) are skipped, then side-band packets are split
 * into the pack (band 1), progress (band 2, dropped) and an error (band 3, thrown). With
 * no side-band, whatever follows the negotiation is the pack itself.
 *
 * Pack bytes are yielded as views of the input chunks, never copied here, even when a
 * packet spans chunks: only packet headers and short text lines are gathered.
 */
export async function* readPackStream(body: AsyncIterable<Uint8Array>, options: { sideBand: boolean }): AsyncGenerator<Buffer> {
  const header = Buffer.alloc(4);
  let headerLength = 0;
  /** Payload bytes left in the current packet (0: a header comes next). */
  let remaining = 0;
  /** The current packet's band (1-3) once its first payload byte is read; 0 for a negotiation line. */
  let band = -1;
  let text: Buffer[] = [];
  let textLength = 0;
  let inPack = false;
  let raw = false;
  let ended = false;

  const finishPacket = (): void => {
    const payload = Buffer.concat(text, textLength);
    text = [];
    textLength = 0;
    if (band === 3) throw new ProtocolError(`primary failed while sending the pack: ${payload.toString('utf8').trim().slice(0, 500)}`);
    if (band !== 0) return;
    const line = payload.toString('utf8').trimEnd();
    if (line.startsWith('ERR ')) throw new ProtocolError(`primary refused the fetch: ${line.slice(4)}`);
    // v2 names its sections: with `done` sent, only `packfile` (and none of the others, which git-geo never asks for).
    if (line === 'packfile' || line === 'acknowledgments') return;
    if (!/^(ACK |NAK|shallow |unshallow )/.test(line)) throw new ProtocolError('unexpected line in the upload-pack response', { data: { line: line.slice(0, 100) } });
    // Without side-band, the pack follows the final ACK/NAK directly.
    if (!options.sideBand && /^(ACK [0-9a-f]{40}$|NAK)/.test(line)) raw = true;
  };

  for await (const input of body) {
    const chunk = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let offset = 0;
    while (offset < chunk.length) {
      if (ended) throw new ProtocolError('upload-pack response goes on after its end');
      if (raw) {
        yield chunk.subarray(offset);
        break;
      }
      if (remaining === 0) {
        const take = Math.min(4 - headerLength, chunk.length - offset);
        chunk.copy(header, headerLength, offset, offset + take);
        headerLength += take;
        offset += take;
        if (headerLength < 4) break;
        headerLength = 0;
        const hex = header.toString('latin1');
        const length = /^[0-9a-f]{4}$/i.test(hex) ? Number.parseInt(hex, 16) : Number.NaN;
        // Protocol v2 separates sections with delimiter (0001) and response-end (0002) packets.
        if (length === 1 || length === 2) continue;
        if (Number.isNaN(length) || (length > 0 && length < 4) || length > MAX_PACKET + 4) {
          throw new ProtocolError('malformed pkt-line in the upload-pack response', { data: { header: JSON.stringify(hex) } });
        }
        if (length === 0) {
          // A flush: the end of the response once the pack has started.
          if (inPack) ended = true;
          continue;
        }
        if (length === 4) continue;
        remaining = length - 4;
        band = -1;
        continue;
      }
      if (band === -1) {
        const first = chunk[offset]!;
        if (first === 1 || first === 2 || first === 3) {
          band = first;
          inPack = true;
          offset++;
          remaining--;
        } else if (inPack) {
          throw new ProtocolError('unexpected line in the upload-pack response, after the pack began');
        } else {
          band = 0;
        }
        if (remaining === 0) finishPacket();
        continue;
      }
      const take = Math.min(remaining, chunk.length - offset);
      if (band === 1) {
        yield chunk.subarray(offset, offset + take);
      } else if (textLength < MAX_TEXT) {
        text.push(chunk.subarray(offset, offset + Math.min(take, MAX_TEXT - textLength)));
        textLength += Math.min(take, MAX_TEXT - textLength);
      }
      offset += take;
      remaining -= take;
      if (remaining === 0) finishPacket();
    }
  }
  if (raw) return;
  if (remaining > 0 || headerLength > 0) throw new ProtocolError('upload-pack response ended inside a packet');
  if (!inPack) throw new ProtocolError('upload-pack response had no pack');
}
