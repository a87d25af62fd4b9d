import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ProtocolError } from '../../lambdas/shared/errors/index.ts';
import { decodePktLines, encodeFlush, encodePktLine, FLUSH } from '../../lambdas/shared/git/pktLine.ts';

const execFileAsync = promisify(execFile);

function expectProtocolError(input: string | Buffer): void {
  const buffer = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  try {
    decodePktLines(buffer);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('ERR_PROTOCOL');
    return;
  }
  throw new Error(`decodePktLines accepted ${JSON.stringify(buffer.toString('latin1'))}`);
}

describe('encodePktLine', () => {
  it('prefixes four lower-case hex digits of the total length', () => {
    expect(encodePktLine('hello\n').toString('ascii')).toBe('000ahello\n');
    expect(encodePktLine('').toString('ascii')).toBe('0004');
    expect(encodePktLine('x'.repeat(252)).subarray(0, 4).toString('ascii')).toBe('0100');
    expect(encodePktLine('x'.repeat(6)).subarray(0, 4).toString('ascii')).toBe('000a');
  });

  it('counts bytes, not characters', () => {
    expect(encodePktLine('\u00e9').toString('latin1', 0, 4)).toBe('0006');
    expect(encodePktLine(Buffer.from([0, 1, 2])).equals(Buffer.from([0x30, 0x30, 0x30, 0x37, 0, 1, 2]))).toBe(true);
  });

  it('accepts the largest payload git allows and refuses one byte more', () => {
    expect(encodePktLine(Buffer.alloc(65516)).toString('ascii', 0, 4)).toBe('fff0');
    expect(() => encodePktLine(Buffer.alloc(65517))).toThrow(ProtocolError);
  });

  it('encodes a flush packet as 0000', () => {
    expect(encodeFlush().toString('ascii')).toBe('0000');
  });
});

describe('decodePktLines', () => {
  it('round-trips payloads and flush packets', () => {
    const payloads = ['want abc\n', '', 'have def\n', 'x'.repeat(1000)];
    const encoded = Buffer.concat([encodePktLine(payloads[0]!), encodePktLine(payloads[1]!), encodeFlush(), encodePktLine(payloads[2]!), encodePktLine(payloads[3]!), encodeFlush()]);
    const decoded = decodePktLines(encoded);
    expect(decoded.map((line) => (line === FLUSH ? null : line.toString('utf8')))).toEqual([payloads[0], payloads[1], null, payloads[2], payloads[3], null]);
  });

  it('answers nothing for an empty buffer', () => {
    expect(decodePktLines(Buffer.alloc(0))).toEqual([]);
  });

  it('keeps binary payloads intact', () => {
    const binary = Buffer.from([0, 255, 10, 13, 0x30]);
    const [line] = decodePktLines(encodePktLine(binary));
    expect(line).not.toBeNull();
    expect(Buffer.compare(line!, binary)).toBe(0);
  });

  it('accepts upper-case hex lengths', () => {
    expect(decodePktLines(Buffer.from(`000A${'hello\n'}`, 'ascii'))[0]?.toString()).toBe('hello\n');
  });

  it.each([
    ['a non-hex length', 'zzzzhello'],
    ['a length of 1 (delim packet)', '0001'],
    ['a length of 2', '0002'],
    ['a length of 3', '0003'],
    ['a truncated payload', '000ahel'],
    ['a truncated length', '00'],
    ['a length past the end', '0000ffff'],
    ['a signed length', '+00ahello\n'],
    ['a negative length', '-001'],
    ['a 0x length', '0x0ahello\n'],
    ['a length with leading space', ' 00ahello\n'],
    ['a valid line followed by garbage', '000ahello\nxyz'],
  ])('rejects %s with ProtocolError', (_label, input) => {
    expectProtocolError(input);
  });

  it('terminates on a negative length that would step backwards (runs in a child process with a timeout)', async () => {
    const moduleUrl = new URL('../../lambdas/shared/git/pktLine.ts', import.meta.url).href;
    const script = `
      const { decodePktLines } = await import(${JSON.stringify(moduleUrl)});
      try { decodePktLines(Buffer.from('0000-004', 'ascii')); console.log('accepted'); }
      catch (error) { console.log(error.code); }
    `;
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      timeout: 30_000,
      killSignal: 'SIGKILL',
    });
    expect(stdout.trim()).toBe('ERR_PROTOCOL');
  });
});
