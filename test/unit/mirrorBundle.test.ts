import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { collectGarbage } from '../../lambdas/backup/collectGarbage.ts';
import { maintainPacks } from '../../lambdas/shared/git/maintainPacks.ts';
import { bundleKey, formatBundleHeader, formatBundleList } from '../../lambdas/shared/git/mirrorBundle.ts';
import { MirrorRepository, type MirrorState } from '../../lambdas/shared/git/MirrorRepository.ts';
import { formatPacksList, parsePackListNotes, parsePacksList } from '../../lambdas/shared/git/packsList.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { MemoryObjectStore } from '../../lambdas/shared/storage/MemoryObjectStore.ts';
import { createPackFixture, type PackFixture } from './support/packFixtures.ts';

const P1 = `pack-${'1'.repeat(40)}`;
const B1 = `bundle-${'b'.repeat(40)}`;

describe('mirror bundles: format and notes', () => {
  it('the pack list notes the bundle in a line git skips', () => {
    const text = formatPacksList([P1], { bundle: { name: B1, pack: P1 } });
    expect(parsePacksList(text)).toEqual([P1]);
    expect(parsePackListNotes(text).bundle).toEqual({ name: B1, pack: P1 });
    expect(parsePackListNotes(formatPacksList([P1])).bundle).toBeUndefined();
  });

  it('a header lists refs sorted by bytes, v3 with the object format for SHA-256', () => {
    const sha1 = formatBundleHeader(new Map([['refs/tags/v1', 'b'.repeat(40)], ['refs/heads/main', 'a'.repeat(40)]])).toString();
    expect(sha1).toBe(`# v2 git bundle\n${'a'.repeat(40)} refs/heads/main\n${'b'.repeat(40)} refs/tags/v1\n\n`);
    expect(formatBundleHeader(new Map([['refs/heads/main', 'c'.repeat(64)]])).toString()).toBe(`# v3 git bundle\n@object-format=sha256\n${'c'.repeat(64)} refs/heads/main\n\n`);
  });

  it('a bundle list quotes the URL (a pre-signed URL may hold ; or #)', () => {
    expect(formatBundleList(B1, 'https://s3.example/b?x=1;y#z')).toBe(`[bundle]\n\tversion = 1\n\tmode = all\n[bundle "${B1}"]\n\turi = "https://s3.example/b?x=1;y#z"\n`);
  });
});

/** A repack that merges every listed pack makes a bundle of it; one that keeps a pack does not. */
describe('maintainPacks writes a bundle from a merge of every pack', () => {
  let fixture: PackFixture;
  const repository = parseRepositoryPath('group/app');
  let main: string;
  let older: Buffer;
  let newer: Buffer;

  beforeAll(async () => {
    fixture = await createPackFixture({ commits: 40 });
    main = (await fixture.git(['rev-parse', 'main'])).toString().trim();
    older = await fixture.git(['pack-objects', '--revs', '--stdout', '--delta-base-offset', '-q'], 'main~20\n');
    newer = await fixture.git(['pack-objects', '--revs', '--stdout', '--delta-base-offset', '-q'], 'main\n^main~20\n');
  });
  afterAll(async () => {
    await fixture?.remove();
  });

  async function mirrorWith(packs: readonly Buffer[]): Promise<{ mirror: MirrorRepository; state: MirrorState }> {
    const mirror = new MirrorRepository(new MemoryObjectStore(), repository);
    const names: string[] = [];
    const bytes = new Map<string, number>();
    for (const pack of packs) {
      const { name, idx } = await fixture.indexWithGit(pack);
      await mirror.writePack({ name, pack, idx });
      names.push(name);
      bytes.set(name, pack.length);
    }
    const state: MirrorState = { snapshot: { head: 'refs/heads/main', refs: new Map([['refs/heads/main', main]]), peeled: new Map() }, packs: names, packBytes: bytes };
    await mirror.publish(state, undefined);
    return { mirror, state };
  }

  it('the bundle git reads: verify accepts it, a clone from it has the refs and passes fsck', async () => {
    const { mirror, state } = await mirrorWith([older, newer]);
    const result = await maintainPacks(mirror, state, { minPacks: 2, spoolDir: fixture.root, bundles: { minPackBytes: 1 } });
    expect(result.state.packs).toEqual([result.merged]);
    expect(result.state.bundle?.pack).toBe(result.merged);
    // Published with the pack list: a reader finds it.
    expect((await mirror.readState())?.bundle).toEqual(result.state.bundle);
    const file = join(fixture.root, 'merged.bundle');
    await writeFile(file, (await mirror.store.get(bundleKey(mirror, result.state.bundle!.name)))!);
    const empty = join(fixture.root, 'empty.git');
    await fixture.git(['init', '-q', '--bare', empty], undefined, fixture.root);
    await fixture.git(['bundle', 'verify', '-q', file], undefined, empty);
    const clone = join(fixture.root, 'from-bundle.git');
    await fixture.git(['clone', '-q', '--bare', file, clone], undefined, fixture.root);
    expect((await fixture.git(['rev-parse', 'refs/heads/main'], undefined, clone)).toString().trim()).toBe(main);
    await fixture.git(['fsck', '--full', '--strict', '--no-dangling'], undefined, clone);
  });

  it('no bundle below the size threshold, nor from a merge that leaves a pack out (it is not closed over the refs)', async () => {
    const small = await mirrorWith([older, newer]);
    const below = await maintainPacks(small.mirror, small.state, { minPacks: 2, spoolDir: fixture.root, bundles: { minPackBytes: 2 ** 30 } });
    expect(below.merged).toBeDefined();
    expect(below.state.bundle).toBeUndefined();

    // Everything in one big pack, and three small ones: the geometric repack merges the small ones only.
    const everything = await fixture.git(['pack-objects', '--revs', '--stdout', '--delta-base-offset', '-q'], 'main\n');
    const tail1 = await fixture.git(['pack-objects', '--revs', '--stdout', '-q'], 'main\n^main~1\n');
    const tail2 = await fixture.git(['pack-objects', '--revs', '--stdout', '-q'], 'main~1\n^main~2\n');
    const tail3 = await fixture.git(['pack-objects', '--revs', '--stdout', '-q'], 'main~2\n^main~3\n');
    const partial = await mirrorWith([everything, tail1, tail2, tail3]);
    const kept = await maintainPacks(partial.mirror, partial.state, { minPacks: 3, spoolDir: fixture.root, bundles: { minPackBytes: 1 } });
    expect(kept.replaced.length).toBeGreaterThanOrEqual(2);
    expect(kept.state.packs).toContain(partial.state.packs[0]);
    expect(kept.state.bundle).toBeUndefined();
  });

  it('the garbage collector deletes a bundle no pack list notes, and keeps the noted one', async () => {
    const { mirror, state } = await mirrorWith([older, newer]);
    const first = await maintainPacks(mirror, state, { minPacks: 2, spoolDir: fixture.root, bundles: { minPackBytes: 1 } });
    // A stale bundle left by an earlier merge (or a sync that died before noting it).
    const stale = bundleKey(mirror, `bundle-${'0'.repeat(40)}`);
    await mirror.store.put(stale, 'old');
    const result = await collectGarbage({ store: mirror.store, retention: { hourlyForHours: 1, dailyForDays: 1 }, now: () => new Date(), graceSeconds: 0 });
    expect(result.bundlesDeleted).toEqual([stale]);
    expect(await mirror.store.head(bundleKey(mirror, first.state.bundle!.name))).toBeDefined();
  });
});
