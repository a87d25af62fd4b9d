import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { formatPacksList, parsePacksList } from '../../lambdas/shared/git/packsList.ts';
import { createRealGitRepository, type RealGitRepository } from './support/realGitRepository.ts';

const P1 = `pack-${'1'.repeat(40)}`;
const P2 = `pack-${'a'.repeat(40)}`;
const P256 = `pack-${'f'.repeat(64)}`;

describe('packsList', () => {
  it('formats one "P <name>.pack" line per pack and a blank line at the end, as git does', () => {
    expect(formatPacksList([P1, P2])).toBe(`P ${P1}.pack\nP ${P2}.pack\n\n`);
    expect(formatPacksList([])).toBe('\n');
  });

  it('round-trips, keeping the order', () => {
    expect(parsePacksList(formatPacksList([P2, P1, P256]))).toEqual([P2, P1, P256]);
    expect(parsePacksList(formatPacksList([]))).toEqual([]);
  });

  it('tolerates CRLF and surrounding whitespace', () => {
    expect(parsePacksList(`P ${P1}.pack\r\n  P ${P2}.pack  \n`)).toEqual([P1, P2]);
  });

  it.each([
    ['a path traversal', 'P ../../pack-1111111111111111111111111111111111111111.pack'],
    ['an upper-case hash', `P pack-${'A'.repeat(40)}.pack`],
    ['a short hash', `P pack-${'1'.repeat(39)}.pack`],
    ['an index instead of a pack', `P ${P1}.idx`],
    ['a missing P', `${P1}.pack`],
    ['an alternate line', 'A ../other/objects'],
    ['a suffix', `P ${P1}.pack.evil`],
  ])('ignores a line that is not a pack name (%s)', (_label, line) => {
    expect(parsePacksList(`${line}\nP ${P2}.pack\n`)).toEqual([P2]);
  });
});

describe('objects/info/packs against real git', () => {
  let repo: RealGitRepository;
  beforeAll(async () => {
    repo = await createRealGitRepository();
  });
  afterAll(async () => {
    await repo.remove();
  });

  it('parses the file git update-server-info wrote and formats it back byte for byte', async () => {
    const written = await repo.read('objects/info/packs');
    const names = parsePacksList(written.toString('utf8'));
    const onDisk = (await repo.git('count-objects', '-v')).match(/^packs: (\d+)$/m)?.[1];
    expect(names).toHaveLength(Number(onDisk));
    expect(names.length).toBeGreaterThan(0);
    const verified = await repo.git('verify-pack', '-v', `objects/pack/${names[0]}.idx`);
    expect(verified).toMatch(/: ok\n?$/);
    expect(Buffer.from(formatPacksList(names), 'utf8').equals(written)).toBe(true);
  });
});
