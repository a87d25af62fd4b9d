import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ProtocolError } from '../../lambdas/shared/errors/index.ts';
import { formatInfoRefs, parseInfoRefs } from '../../lambdas/shared/git/infoRefs.ts';
import type { RefSnapshot } from '../../lambdas/shared/git/RefSnapshot.ts';
import { BRANCHES, createRealGitRepository, type RealGitRepository } from './support/realGitRepository.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const SHA256 = 'd'.repeat(64);

function snapshot(refs: Record<string, string>, peeled: Record<string, string> = {}, head?: string): RefSnapshot {
  return { head, refs: new Map(Object.entries(refs)), peeled: new Map(Object.entries(peeled)) };
}

describe('formatInfoRefs', () => {
  it('writes <oid>TAB<ref> lines, each ending in a newline', () => {
    expect(formatInfoRefs(snapshot({ 'refs/heads/main': A }))).toBe(`${A}\trefs/heads/main\n`);
  });

  it('writes nothing for no refs', () => {
    expect(formatInfoRefs(snapshot({}))).toBe('');
  });

  it('sorts by bytes, as git does, whatever the insertion order', () => {
    const text = formatInfoRefs(
      snapshot({
        'refs/tags/v1': A,
        'refs/heads/\u{1f600}': A,
        'refs/heads/\uff5e': A,
        'refs/heads/a/b': A,
        'refs/heads/a-b': A,
        'refs/heads/main': A,
        'refs/heads/Zebra': A,
      }),
    );
    const names = text.trimEnd().split('\n').map((line) => line.split('\t')[1]);
    // '-' < '/' < 'Z' < 'm' in ASCII; U+FF5E (EF BD 9E in UTF-8) sorts before U+1F600 (F0 9F 98 80)
    // even though JavaScript's UTF-16 comparison puts the emoji's surrogate pair first.
    expect(names).toEqual([
      'refs/heads/Zebra',
      'refs/heads/a-b',
      'refs/heads/a/b',
      'refs/heads/main',
      'refs/heads/\uff5e',
      'refs/heads/\u{1f600}',
      'refs/tags/v1',
    ]);
  });

  it('writes the peeled line right after its annotated tag', () => {
    const text = formatInfoRefs(snapshot({ 'refs/tags/v1': B, 'refs/heads/main': A, 'refs/tags/v0': C }, { 'refs/tags/v1': A }));
    expect(text).toBe(`${A}\trefs/heads/main\n${C}\trefs/tags/v0\n${B}\trefs/tags/v1\n${A}\trefs/tags/v1^{}\n`);
  });

  it('leaves out HEAD', () => {
    expect(formatInfoRefs(snapshot({ 'refs/heads/main': A }, {}, 'refs/heads/main'))).not.toMatch(/HEAD/);
  });

  it('drops a peeled value whose ref is not in the snapshot', () => {
    expect(formatInfoRefs(snapshot({ 'refs/heads/main': A }, { 'refs/tags/gone': B }))).toBe(`${A}\trefs/heads/main\n`);
  });
});

describe('parseInfoRefs', () => {
  it('round-trips refs, peeled tags and SHA-256 object ids', () => {
    const original = snapshot({ 'refs/heads/main': A, 'refs/tags/v1': B, 'refs/heads/x': SHA256 }, { 'refs/tags/v1': C }, 'refs/heads/main');
    const parsed = parseInfoRefs(formatInfoRefs(original), 'refs/heads/main');
    expect(parsed.head).toBe('refs/heads/main');
    expect(parsed.refs).toEqual(original.refs);
    expect(parsed.peeled).toEqual(original.peeled);
    expect(formatInfoRefs(parsed)).toBe(formatInfoRefs(original));
  });

  it('takes HEAD from the caller, since info/refs does not hold it', () => {
    expect(parseInfoRefs(`${A}\trefs/heads/main\n`, undefined).head).toBeUndefined();
    expect(parseInfoRefs(`${A}\trefs/heads/main\n`, 'refs/heads/dev').head).toBe('refs/heads/dev');
  });

  it('separates peeled ^{} lines from refs', () => {
    const parsed = parseInfoRefs(`${B}\trefs/tags/v1\n${A}\trefs/tags/v1^{}\n`, undefined);
    expect([...parsed.refs]).toEqual([['refs/tags/v1', B]]);
    expect([...parsed.peeled]).toEqual([['refs/tags/v1', A]]);
  });

  it('accepts an empty file and a missing final newline', () => {
    expect(parseInfoRefs('', undefined).refs.size).toBe(0);
    expect(parseInfoRefs(`${A}\trefs/heads/main`, undefined).refs.get('refs/heads/main')).toBe(A);
  });

  it.each([
    ['no tab', `${A} refs/heads/main`],
    ['only an oid', A],
    ['a third field', `${A}\trefs/heads/main\textra`],
    ['a short oid', `${'a'.repeat(39)}\trefs/heads/main`],
    ['an upper-case oid', `${'A'.repeat(40)}\trefs/heads/main`],
    ['a non-hex oid', `${'g'.repeat(40)}\trefs/heads/main`],
    ['a 41-character oid', `${'a'.repeat(41)}\trefs/heads/main`],
    ['an HTML error page', '<html><body>502 Bad Gateway</body></html>'],
    ['a smart-HTTP advertisement', '001e# service=git-upload-pack\n0000'],
  ])('rejects a malformed line (%s) with ProtocolError', (_label, text) => {
    expect(() => parseInfoRefs(`${B}\trefs/heads/ok\n${text}\n`, undefined)).toThrow(ProtocolError);
    try {
      parseInfoRefs(text, undefined);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as ProtocolError).code).toBe('ERR_PROTOCOL');
      expect((error as ProtocolError).status).toBe(502);
    }
  });

  it('quotes at most 200 characters of a malformed line', () => {
    try {
      parseInfoRefs('x'.repeat(10_000), undefined);
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      expect(String((error as ProtocolError).data.line)).toHaveLength(200);
    }
  });
});

describe('info/refs against real git', () => {
  let repo: RealGitRepository;
  beforeAll(async () => {
    repo = await createRealGitRepository();
  });
  afterAll(async () => {
    await repo.remove();
  });

  it('formatInfoRefs(parseInfoRefs(file)) is the file git update-server-info wrote, byte for byte', async () => {
    const written = await repo.read('info/refs');
    const parsed = parseInfoRefs(written.toString('utf8'), 'refs/heads/main');
    expect(Buffer.from(formatInfoRefs(parsed), 'utf8').equals(written)).toBe(true);
  });

  it('parses every ref and peeled tag git knows', async () => {
    const parsed = parseInfoRefs((await repo.read('info/refs')).toString('utf8'), undefined);
    const listed = await repo.git('for-each-ref', '--format=%(objectname) %(refname)');
    const expected = new Map(listed.trimEnd().split('\n').map((line) => [line.slice(41), line.slice(0, 40)] as const));
    expect(parsed.refs).toEqual(expected);
    for (const branch of BRANCHES) expect(parsed.refs.has(branch)).toBe(true);
    expect([...parsed.peeled.keys()].sort()).toEqual(['refs/tags/v1.0.0', 'refs/tags/v2.0.0']);
    const peeled = (await repo.git('rev-parse', 'refs/tags/v1.0.0^{}')).trim();
    expect(parsed.peeled.get('refs/tags/v1.0.0')).toBe(peeled);
  });

  it('formats a snapshot built in any order exactly as git does', async () => {
    const written = (await repo.read('info/refs')).toString('utf8');
    const parsed = parseInfoRefs(written, undefined);
    const reversed: RefSnapshot = {
      head: undefined,
      refs: new Map([...parsed.refs].reverse()),
      peeled: new Map([...parsed.peeled].reverse()),
    };
    expect(formatInfoRefs(reversed)).toBe(written);
  });
});
