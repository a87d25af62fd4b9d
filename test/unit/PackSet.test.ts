import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProtocolError } from '../../lambdas/shared/errors/index.ts';
import { selectObjects } from '../../lambdas/shared/git/objects/selectObjects.ts';
import { BufferPackBytes, FilePackBytes } from '../../lambdas/shared/git/pack/PackBytes.ts';
import { PackIndex } from '../../lambdas/shared/git/pack/PackIndex.ts';
import { ObjectCache, PackSet } from '../../lambdas/shared/git/pack/PackSet.ts';
import { writePack } from '../../lambdas/shared/git/pack/writePack.ts';
import { createPackFixture, type PackFixture } from './support/packFixtures.ts';

const oid = (hex: string): Buffer => Buffer.from(hex.trim(), 'hex');

/** The ids `git rev-list --objects` lists for these arguments, sorted. */
async function revListObjects(fixture: PackFixture, args: readonly string[]): Promise<string[]> {
  const out = (await fixture.git(['rev-list', '--objects', ...args])).toString();
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => line.slice(0, 40))
    .sort();
}

describe('PackSet, selectObjects and writePack: reading stored packs and building new ones, checked by git', () => {
  let fixture: PackFixture;
  let packs: PackSet;
  let all: string[];

  beforeAll(async () => {
    fixture = await createPackFixture();
    const { pack, idx } = await fixture.repackedPack();
    packs = new PackSet([{ pack, idx }], 64 * 1024);
    all = (await fixture.git(['cat-file', '--batch-all-objects', '--batch-check=%(objectname)'])).toString().trim().split('\n').sort();
  });
  afterAll(async () => {
    await fixture?.remove();
  });

  it('reads every object of a pack full of delta chains, each hashing to its id (a small cache forces re-reads)', () => {
    expect(all.length).toBeGreaterThan(100);
    for (const hex of all) {
      const object = packs.read(oid(hex));
      const hash = createHash('sha1').update(`${object.type} ${object.data.length}\0`).update(object.data).digest('hex');
      expect(hash).toBe(hex);
    }
  });

  it('reads the same objects from a pack in a file, by range, as from memory', async () => {
    const { pack, idx } = await fixture.repackedPack();
    const dir = await mkdtemp(join(tmpdir(), 'packbytes-'));
    const path = join(dir, 'pack.pack');
    await writeFile(path, pack);
    const file = new FilePackBytes(path, pack.length);
    try {
      const fromFile = new PackSet([{ pack: file, idx }], 64 * 1024);
      for (const hex of all) expect(fromFile.read(oid(hex)).data.equals(packs.read(oid(hex)).data)).toBe(true);
      const some = all.slice(0, 50).map(oid);
      expect(writePack(fromFile, some).pack.equals(writePack(packs, some).pack)).toBe(true);
    } finally {
      file.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('PackIndex finds every object and nothing else, and refuses what is not an index', async () => {
    const { idx } = await fixture.repackedPack();
    const index = new PackIndex(idx);
    expect(index.count).toBe(all.length);
    for (const hex of all) expect(index.find(oid(hex))).toBeGreaterThanOrEqual(12);
    expect(index.find(Buffer.alloc(20, 0xab))).toBeUndefined();
    expect(() => new PackIndex(Buffer.from('not an index'))).toThrow(ProtocolError);
    expect(() => new PackIndex(idx.subarray(0, idx.length - 100))).toThrow(/truncated/);
  });

  it('selects exactly what git rev-list --objects selects for a fetch with haves', async () => {
    const main = oid((await fixture.git(['rev-parse', 'main'])).toString());
    const old = oid((await fixture.git(['rev-parse', 'main~20'])).toString());
    const selection = selectObjects(packs, { wants: [main], haves: [old], clientShallows: [] });
    const selected = selection.objects.map((object) => object.toString('hex')).sort();
    expect(selected).toEqual(await revListObjects(fixture, ['main', '--not', 'main~20']));
    expect(selection.commons.map((object) => object.toString('hex'))).toEqual([old.toString('hex')]);
    expect(selection.clientHas.has(old.toString('hex'))).toBe(true);
  });

  it('a thin pack of those objects is completed and accepted by git index-pack --fix-thin; a whole pack needs no help', async () => {
    const main = oid((await fixture.git(['rev-parse', 'main'])).toString());
    const old = oid((await fixture.git(['rev-parse', 'main~20'])).toString());
    const selection = selectObjects(packs, { wants: [main], haves: [old], clientShallows: [] });
    const thin = writePack(packs, selection.objects, { thinBases: selection.clientHas });
    expect(thin.stats.deltas).toBeGreaterThan(0);
    // A client holding exactly main~20's history completes the thin pack, and then has main whole.
    await fixture.git(['branch', '-f', 'old', 'main~20']);
    const client = join(fixture.root, 'client.git');
    await fixture.git(['clone', '-q', '--bare', '--single-branch', '--branch', 'old', fixture.dir, client], undefined, fixture.root);
    await fixture.git(['index-pack', '--stdin', '--fix-thin'], thin.pack, client);
    await fixture.git(['update-ref', 'refs/heads/main', main.toString('hex')], undefined, client);
    await fixture.git(['fsck', '--full', '--strict', '--no-dangling'], undefined, client);
    // A full pack of everything: every delta's base is in it, nothing is rewritten.
    const everything = writePack(packs, all.map(oid));
    expect(everything.stats.rewritten).toBe(0);
    const indexed = await fixture.indexWithGit(everything.pack);
    expect(indexed.name).toBe(`pack-${everything.pack.subarray(everything.pack.length - 20).toString('hex')}`);
    // Without thin bases, deltas on objects left out are written whole, so git needs nothing else.
    const standalone = writePack(packs, selection.objects);
    expect(standalone.stats.rewritten).toBeGreaterThan(0);
    await fixture.indexWithGit(standalone.pack);
    // Fast compression from the first byte: the same objects, each deflated at level 1, still a pack git takes.
    const fast = writePack(packs, selection.objects, { fastCompressionFrom: 0 });
    expect(fast.stats).toEqual(standalone.stats);
    expect(fast.pack.equals(standalone.pack)).toBe(false);
    await fixture.indexWithGit(fast.pack);
    // From past the end: byte for byte the default.
    expect(writePack(packs, selection.objects, { fastCompressionFrom: standalone.pack.length }).pack).toEqual(standalone.pack);
  });

  it('a shallow selection stops at the depth and names the boundary', async () => {
    const main = oid((await fixture.git(['rev-parse', 'main'])).toString());
    const selection = selectObjects(packs, { wants: [main], haves: [], clientShallows: [], depth: 3 });
    const commits = (await fixture.git(['rev-list', '--max-count=3', 'main'])).toString().trim().split('\n');
    const selectedCommits = selection.objects.map((object) => object.toString('hex')).filter((hex) => commits.includes(hex));
    expect(selectedCommits.sort()).toEqual([...commits].sort());
    expect(selection.shallow.map((object) => object.toString('hex'))).toEqual([commits[2]]);
    // Every object of those three commits' trees, and no other commit.
    const trees = await revListObjects(fixture, ['--no-walk', ...commits]);
    expect(selection.objects.map((object) => object.toString('hex')).sort()).toEqual(trees);
  });

  it('include-tag sends an annotated tag whose commit is sent, and only then', async () => {
    const main = oid((await fixture.git(['rev-parse', 'main'])).toString());
    const tag = (await fixture.git(['rev-parse', 'v1'])).toString().trim();
    const target = (await fixture.git(['rev-parse', 'v1^{}'])).toString().trim();
    const tagsByTarget = new Map([[target, [oid(tag)]]]);
    const full = selectObjects(packs, { wants: [main], haves: [], clientShallows: [], tagsByTarget });
    expect(full.objects.map((object) => object.toString('hex'))).toContain(tag);
    const recent = selectObjects(packs, { wants: [main], haves: [oid(target)], clientShallows: [], tagsByTarget });
    expect(recent.objects.map((object) => object.toString('hex'))).not.toContain(tag);
  });

  it('concatenates packs into one that git indexes, with every object, and refuses when two packs repeat an object', async () => {
    const { pack, idx } = await fixture.repackedPack();
    // Two packs as successive syncs write them: history up to main~30, then the rest.
    const packOf = async (revs: string): Promise<{ pack: Buffer; idx: Buffer }> => {
      const name = (await fixture.git(['pack-objects', '--revs', '-q', 'pack'], revs)).toString().trim();
      const [first, second] = await Promise.all([readFile(join(fixture.dir, `pack-${name}.pack`)), readFile(join(fixture.dir, `pack-${name}.idx`))]);
      return { pack: first, idx: second };
    };
    const older = await packOf('main~30\n');
    const newer = await packOf('main\n^main~30\n');
    const joined = new PackSet([older, newer]).concatenated()!;
    expect(joined.readUInt32BE(8)).toBe(new PackIndex(older.idx).count + new PackIndex(newer.idx).count);
    const indexed = await fixture.indexWithGit(joined);
    expect(new PackIndex(indexed.idx).count).toBe(joined.readUInt32BE(8));
    // One pack: itself, byte for byte.
    expect(new PackSet([{ pack, idx }]).concatenated()!.equals(pack)).toBe(true);
    expect(new PackSet([{ pack, idx }, { pack, idx }]).concatenated()).toBeUndefined();
  });

  it('pack sets sharing an object cache reuse what another read: a set after a sync starts warm', async () => {
    const { pack, idx } = await fixture.repackedPack();
    /** Pack bytes that count the reads before the pack's trailer (the constructor reads that to check the pack). */
    class CountingBytes extends BufferPackBytes {
      reads = 0;
      override read(start: number, end: number): Buffer {
        if (start < pack.length - 20) this.reads++;
        return super.read(start, end);
      }
    }
    const cache = new ObjectCache(8 * 2 ** 20);
    const first = new CountingBytes(pack);
    const before = new PackSet([{ pack: first, idx }], cache);
    for (const hex of all) before.read(oid(hex));
    expect(first.reads).toBeGreaterThan(all.length);
    expect(cache.cachedBytes).toBeGreaterThan(0);
    // The same pack in a new set (as after a sync that added another): every object from the cache,
    // the pack read only for each entry's header (one read per object, no data, no delta base).
    const again = new CountingBytes(pack);
    const after = new PackSet([{ pack: again, idx }], cache);
    for (const hex of all) expect(after.read(oid(hex)).data.equals(packs.read(oid(hex)).data)).toBe(true);
    expect(again.reads).toBe(all.length);
    // A set with its own cache reads the pack again.
    const own = new CountingBytes(pack);
    new PackSet([{ pack: own, idx }]).read(oid(all[0]!));
    expect(own.reads).toBeGreaterThan(0);
  });

  it('a fetch with haves marks the blobs of the trees the client has without reading them (as git does)', async () => {
    const main = oid((await fixture.git(['rev-parse', 'main'])).toString());
    const old = oid((await fixture.git(['rev-parse', 'main~20'])).toString());
    const tree = (await fixture.git(['ls-tree', '-r', 'main~20'])).toString().split('\n').filter(Boolean);
    const blobs = new Set(tree.filter((line) => line.split(' ')[1] === 'blob').map((line) => line.split(/\s/)[2]!));
    expect(blobs.size).toBeGreaterThan(3);
    const read: string[] = [];
    const counting = new Proxy(packs, {
      get(target, property, receiver) {
        if (property === 'read') return (id: Buffer) => (read.push(id.toString('hex')), target.read(id));
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const selection = selectObjects(counting, { wants: [main], haves: [old], clientShallows: [] });
    expect(selection.objects.map((id) => id.toString('hex')).sort()).toEqual(await revListObjects(fixture, ['main', '^main~20']));
    // Every blob of main~20's tree is known to the client, and not one was inflated to learn it.
    for (const blob of blobs) expect(selection.clientHas.has(blob)).toBe(true);
    expect(read.filter((id) => blobs.has(id))).toEqual([]);
  });

  it('refuses an object no pack holds, and a pack that does not match its index', async () => {
    expect(() => packs.read(Buffer.alloc(20, 0xcd))).toThrow(/not in any pack/);
    const { pack, idx } = await fixture.repackedPack();
    const other = Buffer.from(pack);
    other[other.length - 1] = other[other.length - 1]! ^ 0xff;
    expect(() => new PackSet([{ pack: other, idx }])).toThrow(/does not match its index/);
  });
});
