import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ProtocolError } from '../../lambdas/shared/errors/index.ts';
import { applyDelta } from '../../lambdas/shared/git/pack/applyDelta.ts';
import { PackIndexer } from '../../lambdas/shared/git/pack/PackIndexer.ts';
import { packIndexV2 } from '../../lambdas/shared/git/pack/packIndexV2.ts';
import { createPackFixture, feed, type PackFixture } from './support/packFixtures.ts';

function indexInChunks(pack: Buffer, sizes: readonly number[], cacheBytes?: number): ReturnType<PackIndexer['finish']> {
  const indexer = new PackIndexer(cacheBytes);
  feed(pack, sizes, (chunk) => indexer.write(chunk));
  return indexer.finish();
}

/** Counts entries of each type by walking `git verify-pack -v`'s output. */
async function deltaKinds(fixture: PackFixture, idxPath: string): Promise<{ deltas: number; maxChain: number }> {
  const out = (await fixture.git(['verify-pack', '-v', idxPath])).toString();
  const chains = [...out.matchAll(/^chain length = (\d+): (\d+) objects?$/gm)].map((match) => [Number(match[1]), Number(match[2])] as const);
  return { deltas: chains.reduce((total, [, count]) => total + count, 0), maxChain: Math.max(0, ...chains.map(([length]) => length)) };
}

describe('PackIndexer: packs indexed natively, byte for byte as git index-pack', () => {
  let fixture: PackFixture;
  beforeAll(async () => {
    fixture = await createPackFixture();
  });
  afterAll(async () => {
    await fixture?.remove();
  });

  it('indexes a repacked pack (OFS_DELTA chains) into the very .idx git wrote, whatever the chunking', async () => {
    const { name, pack, idx } = await fixture.repackedPack();
    const chains = await deltaKinds(fixture, join(fixture.dir, 'objects', 'pack', `${name}.idx`));
    expect(chains.deltas).toBeGreaterThan(20);
    expect(chains.maxChain).toBeGreaterThan(3);
    for (const sizes of [[pack.length], [1], [7, 4096, 13], [65_515]]) {
      const result = indexInChunks(pack, sizes);
      expect(result.name).toBe(name);
      expect(result.idx.equals(idx)).toBe(true);
      expect(result.pack.equals(pack)).toBe(true);
    }
  });

  it('gives the same index with a delta base cache too small to hold anything (bases rebuilt from the pack)', async () => {
    const { pack, idx } = await fixture.repackedPack();
    expect(indexInChunks(pack, [1000], 0).idx.equals(idx)).toBe(true);
  });

  it('indexes a pack of REF_DELTA entries (no ofs-delta) as git does', async () => {
    const pack = await fixture.git(['pack-objects', '--revs', '--stdout', '--no-reuse-delta', '-q'], 'main\nrefs/tags/v1\n');
    const git = await fixture.indexWithGit(pack);
    const packPath = join(fixture.root, 'ref-delta.pack');
    await writeFile(packPath, pack);
    await writeFile(packPath.replace(/\.pack$/, '.idx'), git.idx);
    const verbose = (await fixture.git(['verify-pack', '-v', packPath.replace(/\.pack$/, '.idx')])).toString();
    expect(verbose).toMatch(/chain length = 1:/);
    // git writes REF_DELTA (type 7) when --delta-base-offset is not given.
    expect(pack.includes(Buffer.from([0x70]))).toBe(true);
    const result = indexInChunks(pack, [333]);
    expect(result.name).toBe(git.name);
    expect(result.idx.equals(git.idx)).toBe(true);
  });

  it('indexes a REF_DELTA whose base comes later in the pack', async () => {
    // pack-objects orders bases first; reversing the entries of a REF_DELTA pack puts deltas before bases.
    const pack = await fixture.git(['pack-objects', '--revs', '--stdout', '--no-reuse-delta', '-q'], 'main\n');
    const reversed = await reversePackEntries(pack, fixture);
    const git = await fixture.indexWithGit(reversed);
    const result = indexInChunks(reversed, [4096]);
    expect(result.idx.equals(git.idx)).toBe(true);
  });

  it('refuses a thin pack: a delta whose base is not in the pack', async () => {
    const thin = await fixture.git(['pack-objects', '--revs', '--stdout', '--thin', '-q'], 'main\n^main~5\n');
    expect(() => indexInChunks(thin, [4096])).toThrow(/thin pack/);
  });

  it('refuses a pack whose checksum is wrong, a truncated pack, and one with corrupt data', async () => {
    const { pack } = await fixture.repackedPack();
    const badTrailer = Buffer.from(pack);
    badTrailer.writeUInt8(badTrailer.readUInt8(badTrailer.length - 1) ^ 0xff, badTrailer.length - 1);
    expect(() => indexInChunks(badTrailer, [4096])).toThrow(/checksum mismatch/);
    expect(() => indexInChunks(pack.subarray(0, pack.length - 100), [4096])).toThrow(ProtocolError);
    expect(() => indexInChunks(pack.subarray(0, 8), [4096])).toThrow(/before its header/);
    const corrupt = Buffer.from(pack);
    for (let i = 200; i < 260; i++) corrupt.writeUInt8(corrupt.readUInt8(i) ^ 0x5a, i);
    expect(() => indexInChunks(corrupt, [4096])).toThrow(ProtocolError);
    expect(() => indexInChunks(Buffer.concat([pack, Buffer.from('extra')]), [4096])).toThrow(/after its checksum/);
    expect(() => indexInChunks(Buffer.from('NOTAPACK00000000'), [16])).toThrow(/not a pack/);
  });

  it('spooling to a file gives the same pack and index, holding only the entry being parsed', async () => {
    const { name, pack, idx } = await fixture.repackedPack();
    const reversed = await reversePackEntries(await fixture.git(['pack-objects', '--revs', '--stdout', '--no-reuse-delta', '-q'], 'main\n'), fixture);
    const reversedIdx = (await fixture.indexWithGit(reversed)).idx;
    const spoolPath = join(fixture.root, 'spooled.pack');
    // Cache 0: every delta base is read back from the spool file; REF_DELTA bases after their deltas too.
    for (const [input, expectedIdx, sizes, cacheBytes] of [
      [pack, idx, [1], 0],
      [pack, idx, [7, 4096, 13], 0],
      [pack, idx, [65_515], undefined],
      [reversed, reversedIdx, [333], 0],
    ] as const) {
      const indexer = new PackIndexer({ spoolPath, cacheBytes });
      let window = 0;
      feed(input, sizes, (chunk) => {
        indexer.write(chunk);
        const state = indexer as unknown as { length: number; windowStart: number };
        window = Math.max(window, state.length - state.windowStart);
      });
      const spooled = indexer.finishToFile();
      expect(spooled.idx.equals(expectedIdx)).toBe(true);
      expect(spooled.packSize).toBe(input.length);
      expect((await readFile(spooled.packPath)).equals(input)).toBe(true);
      if (input === pack) expect(spooled.name).toBe(name);
      // The bytes held never came near the whole pack (it is many times its largest entry).
      if (sizes[0] < 5000) expect(window).toBeLessThan(input.length / 2);
    }
    const aborted = new PackIndexer({ spoolPath });
    aborted.write(pack.subarray(0, 1000));
    aborted.abort();
    await expect(readFile(spoolPath)).rejects.toThrow(/ENOENT/);
    const truncated = new PackIndexer({ spoolPath });
    truncated.write(pack.subarray(0, pack.length - 30));
    expect(() => truncated.finishToFile()).toThrow(ProtocolError);
    await expect(readFile(spoolPath)).rejects.toThrow(/ENOENT/);
    await rm(spoolPath, { force: true });
  });

  it('writes a pack git can use: verify-pack and fsck pass on the pack and the index', async () => {
    const pack = await fixture.git(['pack-objects', '--revs', '--stdout', '--delta-base-offset', '-q'], 'main\nrefs/tags/v1\n');
    const result = indexInChunks(pack, [1 << 16]);
    const repo = join(fixture.root, 'restored.git');
    await fixture.git(['init', '--bare', '-q', repo]);
    await mkdir(join(repo, 'objects', 'pack'), { recursive: true });
    await writeFile(join(repo, 'objects', 'pack', `${result.name}.pack`), result.pack);
    await writeFile(join(repo, 'objects', 'pack', `${result.name}.idx`), result.idx);
    const main = (await fixture.git(['rev-parse', 'main'])).toString().trim();
    await fixture.git(['--git-dir', repo, 'update-ref', 'refs/heads/main', main]);
    await fixture.git(['verify-pack', join(repo, 'objects', 'pack', `${result.name}.idx`)]);
    await fixture.git(['--git-dir', repo, 'fsck', '--full', '--strict', '--no-dangling']);
    expect(result.objectCount).toBe(Number((await fixture.git(['rev-list', '--objects', '--count', 'main', 'refs/tags/v1'])).toString().trim()));
  });
});

/** Rewrites a pack with its entries in reverse order (a valid pack; REF_DELTA bases then follow their deltas). */
async function reversePackEntries(pack: Buffer, fixture: PackFixture): Promise<Buffer> {
  const git = await fixture.indexWithGit(pack);
  const count = pack.readUInt32BE(8);
  const offsets: number[] = [];
  const idx = git.idx;
  const table = 8 + 256 * 4 + count * 24;
  for (let i = 0; i < count; i++) offsets.push(idx.readUInt32BE(table + i * 4));
  offsets.sort((a, b) => a - b);
  const ends = [...offsets.slice(1), pack.length - 20];
  const entries = offsets.map((offset, index) => pack.subarray(offset, ends[index]));
  const body = Buffer.concat([pack.subarray(0, 12), ...entries.reverse()]);
  const { createHash } = await import('node:crypto');
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

describe('packIndexV2', () => {
  it('puts offsets past 2 GiB in the 64-bit table', () => {
    const oid = (byte: number): Buffer => Buffer.alloc(20, byte);
    const idx = packIndexV2(
      [
        { oid: oid(0xaa), offset: 12, crc32: 1 },
        { oid: oid(0x01), offset: 2 ** 31 + 5, crc32: 2 },
        { oid: oid(0x7f), offset: 2 ** 33, crc32: 3 },
      ],
      Buffer.alloc(20, 9),
    );
    const base = 8 + 256 * 4;
    expect(idx.readUInt32BE(8 + 0xff * 4)).toBe(3);
    expect(idx.readUInt32BE(8 + 0x01 * 4)).toBe(1);
    expect(idx.subarray(base, base + 20).equals(oid(0x01))).toBe(true);
    const offsets = base + 3 * 24;
    expect(idx.readUInt32BE(offsets)).toBe(0x80000000);
    expect(idx.readUInt32BE(offsets + 4)).toBe(0x80000001);
    expect(idx.readUInt32BE(offsets + 8)).toBe(12);
    expect(idx.readBigUInt64BE(offsets + 12)).toBe(BigInt(2 ** 31 + 5));
    expect(idx.readBigUInt64BE(offsets + 20)).toBe(BigInt(2 ** 33));
    expect(idx.length).toBe(8 + 1024 + 3 * 28 + 16 + 40);
  });
});

describe('packIndexV2 from columns', () => {
  it('sorts ids that share their first four bytes by the rest, and writes what the entry form writes', () => {
    const ids = ['0a0b0c0d' + 'ff'.repeat(16), '0a0b0c0d' + '00'.repeat(16), '0a0b0c0d' + '00'.repeat(15) + '01', '00'.repeat(20)];
    const oids = Buffer.from(ids.join(''), 'hex');
    const offsets = [12, 40, 80, 120];
    const crcs = [7, 8, 9, 10];
    const idx = packIndexV2({ count: 4, oids, offsets: Float64Array.from(offsets), crcs: Uint32Array.from(crcs) }, Buffer.alloc(20, 1));
    const base = 8 + 256 * 4;
    const sorted = [0, 1, 2, 3].map((i) => idx.subarray(base + i * 20, base + i * 20 + 20).toString('hex'));
    expect(sorted).toEqual([...ids].sort());
    // Each id keeps its own offset and CRC-32.
    const offsetOf = (id: string): number => idx.readUInt32BE(base + 4 * 24 + sorted.indexOf(id) * 4);
    expect(ids.map(offsetOf)).toEqual(offsets);
    const entries = ids.map((id, i) => ({ oid: Buffer.from(id, 'hex'), offset: offsets[i]!, crc32: crcs[i]! }));
    expect(packIndexV2(entries, Buffer.alloc(20, 1))).toEqual(idx);
  });
});

describe('applyDelta', () => {
  const base = Buffer.from('hello, world');
  it('copies and inserts', () => {
    // base size 12, result size 11: copy 5 bytes at 0, insert "!!", copy 4 bytes at 8 ("orld").
    const delta = Buffer.from([12, 11, 0x90, 5, 2, 0x21, 0x21, 0x91, 8, 4]);
    expect(applyDelta(base, delta).toString()).toBe('hello!!orld');
  });
  it('refuses hostile deltas', () => {
    expect(() => applyDelta(base, Buffer.from([11, 1, 1, 0x41]))).toThrow(/does not fit its base/);
    expect(() => applyDelta(base, Buffer.from([12, 5, 0x91, 10, 5]))).toThrow(/outside/);
    expect(() => applyDelta(base, Buffer.from([12, 1, 5, 0x41]))).toThrow(/past its end/);
    expect(() => applyDelta(base, Buffer.from([12, 1, 0]))).toThrow(/reserved/);
    expect(() => applyDelta(base, Buffer.from([12, 3, 1, 0x41]))).toThrow(/wrong size/);
    expect(() => applyDelta(base, Buffer.from([0x80]))).toThrow(/truncated/);
  });
});
