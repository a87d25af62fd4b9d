import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseInfoRefs } from '../../lambdas/shared/git/infoRefs.ts';
import { formatPackedRefs } from '../../lambdas/shared/git/packedRefs.ts';
import type { RefSnapshot } from '../../lambdas/shared/git/RefSnapshot.ts';
import { createRealGitRepository, type RealGitRepository } from './support/realGitRepository.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const HEADER = '# pack-refs with: peeled fully-peeled sorted \n';

function snapshot(refs: Record<string, string>, peeled: Record<string, string> = {}): RefSnapshot {
  return { head: 'refs/heads/main', refs: new Map(Object.entries(refs)), peeled: new Map(Object.entries(peeled)) };
}

describe('formatPackedRefs', () => {
  it('starts with the header git writes, trailing space included', () => {
    expect(formatPackedRefs(snapshot({}))).toBe(HEADER);
  });

  it('writes <oid> SP <ref> and a ^<peeled> line after an annotated tag', () => {
    expect(formatPackedRefs(snapshot({ 'refs/tags/v1': B, 'refs/heads/main': A }, { 'refs/tags/v1': A }))).toBe(
      `${HEADER}${A} refs/heads/main\n${B} refs/tags/v1\n^${A}\n`,
    );
  });

  it('sorts by bytes, not by UTF-16 code units', () => {
    const text = formatPackedRefs(snapshot({ 'refs/heads/\u{1f600}': A, 'refs/heads/\uff5e': B, 'refs/heads/a/b': A, 'refs/heads/a-b': A }));
    expect(text).toBe(`${HEADER}${A} refs/heads/a-b\n${A} refs/heads/a/b\n${B} refs/heads/\uff5e\n${A} refs/heads/\u{1f600}\n`);
  });
});

describe('packed-refs against real git', () => {
  let repo: RealGitRepository;
  beforeAll(async () => {
    repo = await createRealGitRepository();
  });
  afterAll(async () => {
    await repo.remove();
  });

  it('is byte for byte the packed-refs git pack-refs --all wrote for the same refs', async () => {
    const parsed = parseInfoRefs((await repo.read('info/refs')).toString('utf8'), 'refs/heads/main');
    const written = await repo.read('packed-refs');
    expect(Buffer.from(formatPackedRefs(parsed), 'utf8').equals(written)).toBe(true);
  });

  it('is read back by git as the same refs', async () => {
    const parsed = parseInfoRefs((await repo.read('info/refs')).toString('utf8'), 'refs/heads/main');
    const packed = formatPackedRefs(parsed);
    const fromGit = await repo.git('show-ref', '-d');
    const expected = fromGit
      .trimEnd()
      .split('\n')
      .map((line) => line.split(' '))
      .filter(([, name]) => name?.endsWith('^{}') === false);
    for (const [oid, name] of expected) expect(packed).toContain(`${oid} ${name}\n`);
  });
});
