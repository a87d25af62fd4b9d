import { describe, expect, it } from '@jest/globals';
import { ProtocolError } from '../../lambdas/shared/errors/index.ts';
import { decodePktLines, encodeFlush, encodePktLine } from '../../lambdas/shared/git/pktLine.ts';
import { rewriteUploadPackRequest } from '../../lambdas/shared/git/uploadPackRequest.ts';

const W1 = '1'.repeat(40);
const W2 = '2'.repeat(40);
const W3 = '3'.repeat(40);
const H1 = 'a'.repeat(40);
const H2 = 'b'.repeat(40);
const H3 = 'c'.repeat(40);
const CAPS = 'multi_ack_detailed no-done side-band-64k thin-pack ofs-delta agent=git/isomorphic-git@1.44.19';

/** An upload-pack request laid out as isomorphic-git's writeUploadPackRequest writes it. */
function request(options: { wants: string[]; caps?: string; haves?: string[]; extra?: string[] }): Buffer {
  const lines: Buffer[] = options.wants.map((oid, index) => encodePktLine(`want ${oid}${index === 0 ? ` ${options.caps ?? CAPS}` : ''}\n`));
  for (const line of options.extra ?? []) lines.push(encodePktLine(`${line}\n`));
  lines.push(encodeFlush());
  for (const oid of options.haves ?? []) lines.push(encodePktLine(`have ${oid}\n`));
  lines.push(encodePktLine('done\n'));
  return Buffer.concat(lines);
}

/** The request as text lines, with flush packets shown as '0000'. */
function textLines(body: Buffer): string[] {
  return decodePktLines(body).map((line) => (line === null ? '0000' : line.toString('utf8')));
}

function expectProtocolError(run: () => unknown): void {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('ERR_PROTOCOL');
    return;
  }
  throw new Error('no ProtocolError was thrown');
}

describe('rewriteUploadPackRequest', () => {
  it('changes nothing when there is nothing to add', () => {
    const body = request({ wants: [W1, W2], haves: [H1] });
    expect(rewriteUploadPackRequest(body, { extraWants: [], haves: [] }).equals(body)).toBe(true);
  });

  it('keeps the capabilities on the first want only, adds extra wants and haves, and ends flush, haves, done', () => {
    const body = request({ wants: [W1], haves: [H1] });
    const rewritten = rewriteUploadPackRequest(body, { extraWants: [W2, W3], haves: [H2, H3] });
    expect(textLines(rewritten)).toEqual([
      `want ${W1} ${CAPS}\n`,
      `want ${W2}\n`,
      `want ${W3}\n`,
      '0000',
      `have ${H1}\n`,
      `have ${H2}\n`,
      `have ${H3}\n`,
      'done\n',
    ]);
  });

  it('deduplicates wants and haves, keeping the first occurrence', () => {
    const body = request({ wants: [W1, W2], haves: [H1, H2] });
    const rewritten = rewriteUploadPackRequest(body, { extraWants: [W2, W1, W3, W3], haves: [H2, H1, H3, H3] });
    expect(textLines(rewritten)).toEqual([`want ${W1} ${CAPS}\n`, `want ${W2}\n`, `want ${W3}\n`, '0000', `have ${H1}\n`, `have ${H2}\n`, `have ${H3}\n`, 'done\n']);
  });

  it('keeps shallow and deepen lines before the flush', () => {
    const body = request({ wants: [W1], extra: [`shallow ${H1}`, 'deepen 1'] });
    const lines = textLines(rewriteUploadPackRequest(body, { extraWants: [W2], haves: [H2] }));
    expect(lines).toEqual([`want ${W1} ${CAPS}\n`, `want ${W2}\n`, `shallow ${H1}\n`, 'deepen 1\n', '0000', `have ${H2}\n`, 'done\n']);
  });

  it('writes exactly one flush and one done, at their places', () => {
    const lines = textLines(rewriteUploadPackRequest(request({ wants: [W1], haves: [H1] }), { extraWants: [W2], haves: [H2] }));
    expect(lines.filter((line) => line === '0000')).toHaveLength(1);
    expect(lines.filter((line) => line === 'done\n')).toHaveLength(1);
    expect(lines.at(-1)).toBe('done\n');
    const flush = lines.indexOf('0000');
    expect(lines.slice(0, flush).every((line) => line.startsWith('want '))).toBe(true);
    expect(lines.slice(flush + 1, -1).every((line) => line.startsWith('have '))).toBe(true);
  });

  it('does not add a stray space when the client sent no capabilities', () => {
    // isomorphic-git writes "want <oid> \n" when its capability list is empty.
    const lines = textLines(rewriteUploadPackRequest(request({ wants: [W1], caps: '' }), { extraWants: [W2], haves: [] }));
    expect(lines.slice(0, 2)).toEqual([`want ${W1}\n`, `want ${W2}\n`]);
  });

  it('can want only what the negotiation asks for', () => {
    const body = Buffer.concat([encodeFlush(), encodePktLine('done\n')]);
    expect(textLines(rewriteUploadPackRequest(body, { extraWants: [W1], haves: [H1] }))).toEqual([`want ${W1}\n`, '0000', `have ${H1}\n`, 'done\n']);
  });

  it('also reads a request without a trailing newline on its lines', () => {
    const body = Buffer.concat([encodePktLine(`want ${W1} ${CAPS}`), encodeFlush(), encodePktLine(`have ${H1}`), encodePktLine('done')]);
    expect(textLines(rewriteUploadPackRequest(body, { extraWants: [], haves: [] }))).toEqual([`want ${W1} ${CAPS}\n`, '0000', `have ${H1}\n`, 'done\n']);
  });

  describe('rejects malformed input with ProtocolError', () => {
    it('a request with no wants at all', () => {
      expectProtocolError(() => rewriteUploadPackRequest(Buffer.concat([encodeFlush(), encodePktLine('done\n')]), { extraWants: [], haves: [H1] }));
      expectProtocolError(() => rewriteUploadPackRequest(Buffer.alloc(0), { extraWants: [], haves: [] }));
    });

    it.each([
      ['bytes that are not pkt-lines', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
      ['a truncated pkt-line', Buffer.from('0032want 1111')],
      ['a want with no object id', Buffer.concat([encodePktLine('want \n'), encodeFlush(), encodePktLine('done\n')])],
      ['a want with a bad object id', Buffer.concat([encodePktLine('want not-an-oid\n'), encodeFlush(), encodePktLine('done\n')])],
      ['a have with a bad object id', Buffer.concat([encodePktLine(`want ${W1}\n`), encodeFlush(), encodePktLine('have ../../x\n'), encodePktLine('done\n')])],
    ])('%s', (_label, body) => {
      expectProtocolError(() => rewriteUploadPackRequest(body, { extraWants: [W2], haves: [] }));
    });
  });
});
