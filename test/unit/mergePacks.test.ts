import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { planGeometricRepack } from '../../lambdas/shared/git/maintainPacks.ts';
import { mergePacks, type PackSource } from '../../lambdas/shared/git/pack/mergePacks.ts';
import { createPackFixture, type PackFixture } from './support/packFixtures.ts';

/**
 * Repacking copies stored entries as they are: the merged pack must be one git accepts whole
 * (verify-pack, fsck), index byte for byte as `git index-pack` indexes it, and hold every object
 * of its sources once, even when the sources overlap and their deltas point at dropped copies.
 */
describe('mergePacks: packs merged by copying their entries', () => {
  let fixture: PackFixture;
  beforeAll(async () => {
    fixture = await createPackFixture({ commits: 80 });
  });
  afterAll(async () => {
    await fixture?.remove();
  });

  async function source(pack: Buffer): Promise<PackSource> {
    const { name, idx } = await fixture.indexWithGit(pack);
    return {
      name,
      idx,
      size: pack.length,
      // Odd chunk sizes: entries span chunks.
      open: () => Promise.resolve((async function* () {
        for (let at = 0; at < pack.length; at += 777) yield await Promise.resolve(pack.subarray(at, at + 777));
      })()),
    };
  }

  it('merges overlapping OFS_DELTA and REF_DELTA packs into one whole pack, each object once', async () => {
    const older = await fixture.git(['pack-objects', '--revs', '--stdout', '--delta-base-offset', '-q'], 'main~40\n');
    const newer = await fixture.git(['pack-objects', '--revs', '--stdout', '--delta-base-offset', '-q'], 'main\n^main~40\n');
    // Every object again, as REF_DELTAs: all duplicates, some of them delta bases of others.
    const everything = await fixture.git(['pack-objects', '--revs', '--stdout', '--no-reuse-delta', '-q'], 'main\nrefs/tags/v1\n');
    const spoolPath = join(fixture.root, 'merged.pack');
    for (const order of [[older, newer, everything], [everything, older, newer]]) {
      const merged = await mergePacks(await Promise.all(order.map(source)), spoolPath);
      const bytes = await readFile(spoolPath);
      expect(bytes.length).toBe(merged.packSize);
      const git = await fixture.indexWithGit(bytes);
      expect(merged.name).toBe(git.name);
      expect(merged.idx.equals(git.idx)).toBe(true);
      const expected = Number((await fixture.git(['rev-list', '--objects', '--count', 'main', 'refs/tags/v1'])).toString().trim());
      expect(merged.objectCount).toBe(expected);
      const repo = join(fixture.root, `merged-${merged.name}.git`);
      await fixture.git(['init', '--bare', '-q', repo]);
      await mkdir(join(repo, 'objects', 'pack'), { recursive: true });
      await writeFile(join(repo, 'objects', 'pack', `${merged.name}.pack`), bytes);
      await writeFile(join(repo, 'objects', 'pack', `${merged.name}.idx`), merged.idx);
      await fixture.git(['--git-dir', repo, 'update-ref', 'refs/heads/main', (await fixture.git(['rev-parse', 'main'])).toString().trim()]);
      await fixture.git(['--git-dir', repo, 'update-ref', 'refs/tags/v1', (await fixture.git(['rev-parse', 'refs/tags/v1'])).toString().trim()]);
      await fixture.git(['verify-pack', join(repo, 'objects', 'pack', `${merged.name}.idx`)]);
      await fixture.git(['--git-dir', repo, 'fsck', '--full', '--strict', '--no-dangling']);
    }
    await rm(spoolPath, { force: true });
  });

  it('refuses a pack that does not match its index, and leaves no spool file', async () => {
    const pack = await fixture.git(['pack-objects', '--revs', '--stdout', '--delta-base-offset', '-q'], 'main~40\n');
    const other = await source(await fixture.git(['pack-objects', '--revs', '--stdout', '-q'], 'main~50\n'));
    const spoolPath = join(fixture.root, 'bad.pack');
    await expect(mergePacks([{ ...(await source(pack)), idx: other.idx }], spoolPath)).rejects.toThrow(/does not match its index|do not fit/);
    await expect(readFile(spoolPath)).rejects.toThrow(/ENOENT/);
  });
});

describe('planGeometricRepack', () => {
  const packs = (...sizes: number[]): { name: string; bytes: number }[] => sizes.map((bytes, index) => ({ name: `p${index}`, bytes }));
  it('leaves a geometric progression alone and merges what breaks it', () => {
    expect(planGeometricRepack(packs(1, 2, 4, 8, 100), 2)).toEqual([]);
    expect(planGeometricRepack(packs(100, 1, 1), 2).map((pack) => pack.name).sort()).toEqual(['p1', 'p2']);
    // Merging the small ones (1+1+3 = 5) makes 8 no longer twice as big: it joins them.
    expect(planGeometricRepack(packs(1, 1, 3, 8, 64), 2).map((pack) => pack.name).sort()).toEqual(['p0', 'p1', 'p2', 'p3']);
  });
  it('keeps the count logarithmic over many equal syncs', () => {
    let sizes: number[] = [];
    let most = 0;
    for (let sync = 0; sync < 1000; sync++) {
      sizes.push(1);
      const merged = planGeometricRepack(packs(...sizes), 2);
      if (merged.length > 0) {
        const names = new Set(merged.map((pack) => pack.name));
        const kept = packs(...sizes).filter((pack) => !names.has(pack.name)).map((pack) => pack.bytes);
        sizes = [...kept, merged.reduce((sum, pack) => sum + pack.bytes, 0)];
      }
      most = Math.max(most, sizes.length);
    }
    expect(most).toBeLessThanOrEqual(Math.ceil(Math.log2(1000)) + 1);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1000);
  });
});
