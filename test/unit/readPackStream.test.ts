import { describe, expect, it } from '@jest/globals';
import { ProtocolError } from '../../lambdas/shared/errors/index.ts';
import { readPackStream } from '../../lambdas/shared/git/pack/readPackStream.ts';
import { chooseCapabilities, uploadPackRequestBody } from '../../lambdas/shared/git/pack/uploadPackRequestBody.ts';
import { decodePktLines, encodeFlush, encodePktLine } from '../../lambdas/shared/git/pktLine.ts';

async function* chunks(buffer: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < buffer.length; offset += size) yield await Promise.resolve(buffer.subarray(offset, offset + size));
}

async function read(body: Buffer, size: number, sideBand = true): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of readPackStream(chunks(body, size), { sideBand })) out.push(Buffer.from(chunk));
  return Buffer.concat(out);
}

const band = (n: number, payload: Buffer | string): Buffer => encodePktLine(Buffer.concat([Buffer.from([n]), Buffer.from(payload)]));

describe('readPackStream: the pack out of an upload-pack response, as it streams', () => {
  const pack = Buffer.from(Array.from({ length: 150_000 }, (_, i) => (i * 31) % 251));
  const packets: Buffer[] = [];
  for (let offset = 0; offset < pack.length; offset += 65_515) packets.push(band(1, pack.subarray(offset, offset + 65_515)));
  const response = Buffer.concat([encodePktLine('ACK 0123456789012345678901234567890123456789 common\n'), encodePktLine('NAK\n'), band(2, 'Counting objects\r'), ...packets, band(2, 'done\n'), encodeFlush()]);

  it('joins band 1 and drops progress, whatever the chunk boundaries', async () => {
    for (const size of [1, 3, 1000, 65_536, response.length]) expect((await read(response, size)).equals(pack)).toBe(true);
  });

  it('throws the primary\'s error from band 3 and from an ERR line', async () => {
    await expect(read(Buffer.concat([encodePktLine('NAK\n'), band(1, 'PACK'), band(3, 'upload-pack: out of memory')]), 7)).rejects.toThrow(/out of memory/);
    await expect(read(encodePktLine('ERR upload-pack: not our ref 1234'), 7)).rejects.toThrow(/not our ref/);
  });

  it('refuses malformed and truncated responses', async () => {
    await expect(read(Buffer.from('zzzz'), 4)).rejects.toThrow(ProtocolError);
    await expect(read(Buffer.concat([encodePktLine('NAK\n'), band(1, 'PACK').subarray(0, 6)]), 4)).rejects.toThrow(/inside a packet/);
    await expect(read(Buffer.concat([encodePktLine('NAK\n'), encodeFlush()]), 4)).rejects.toThrow(/no pack/);
    await expect(read(encodePktLine('hello\n'), 4)).rejects.toThrow(/unexpected line/);
  });

  it('without side-band, takes everything after the final NAK as the pack', async () => {
    expect((await read(Buffer.concat([encodePktLine('NAK\n'), pack]), 4096, false)).equals(pack)).toBe(true);
  });
});

describe('uploadPackRequestBody', () => {
  it('sends every want with the capabilities on the first, then the haves and done, and never thin-pack', () => {
    const capabilities = chooseCapabilities({ 'side-band-64k': true, 'ofs-delta': true, 'thin-pack': true, 'no-progress': true, 'multi_ack_detailed': true });
    expect(capabilities).toEqual(['side-band-64k', 'ofs-delta', 'no-progress', 'agent=git-geo']);
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    const lines = decodePktLines(uploadPackRequestBody({ wants: [a, b, a], haves: [b], capabilities })).map((line) => line?.toString() ?? null);
    expect(lines).toEqual([`want ${a} side-band-64k ofs-delta no-progress agent=git-geo\n`, `want ${b}\n`, null, `have ${b}\n`, 'done\n']);
    expect(chooseCapabilities({ 'side-band': true })).toEqual(['side-band', 'agent=git-geo']);
    expect(() => uploadPackRequestBody({ wants: [], haves: [], capabilities })).toThrow(/without wants/);
    expect(() => uploadPackRequestBody({ wants: ['nope'], haves: [], capabilities })).toThrow(/invalid object id/);
  });
});
