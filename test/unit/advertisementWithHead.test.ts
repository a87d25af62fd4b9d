import { describe, expect, it } from '@jest/globals';
import { advertisementWithHead } from '../../lambdas/shared/git/advertisementWithHead.ts';
import { decodePktLines, encodeFlush, encodePktLine } from '../../lambdas/shared/git/pktLine.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const advertisement = (...refs: string[]): Buffer =>
  Buffer.concat([encodePktLine('# service=git-upload-pack\n'), encodeFlush(), ...refs.map((ref) => encodePktLine(ref)), encodeFlush()]);
const text = (buffer: Buffer): (string | null)[] => decodePktLines(buffer).map((line) => (line === null ? null : line.toString('latin1')));

describe('advertisementWithHead', () => {
  it('adds HEAD after the first ref when the primary advertises none (an unborn default branch)', () => {
    const patched = advertisementWithHead(advertisement(`${A} refs/heads/master\0multi_ack side-band-64k\n`, `${B} refs/tags/v1\n`));
    expect(text(patched)).toEqual(['# service=git-upload-pack\n', null, `${A} refs/heads/master\0multi_ack side-band-64k\n`, `${A} HEAD\n`, `${B} refs/tags/v1\n`, null]);
  });

  it('leaves an advertisement with HEAD, or with no refs, byte for byte', () => {
    const withHead = advertisement(`${A} HEAD\0symref=HEAD:refs/heads/main\n`, `${A} refs/heads/main\n`);
    expect(advertisementWithHead(withHead)).toEqual(withHead);
    const empty = Buffer.concat([encodePktLine('# service=git-upload-pack\n'), encodeFlush(), encodeFlush()]);
    expect(advertisementWithHead(empty)).toEqual(empty);
  });
});
