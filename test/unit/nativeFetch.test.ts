import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FetchedPack } from '../../lambdas/shared/git/PackFiles.ts';
import { discardPack, PrimaryRemote, type FetchEngine } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { createPackFixture, type PackFixture } from './support/packFixtures.ts';

/**
 * The streaming fetch against real `git http-backend` (the harness's primary): both engines
 * fetch the same wants and haves; the native one's pack must be whole (verify-pack, fsck with
 * only the objects the mirror already had) and hold exactly the objects git says are new.
 */
describe('PrimaryRemote.fetchPack: native streaming fetch from git http-backend', () => {
  const primaryUrl = process.env.GIT_GEO_TEST_PRIMARY_URL!;
  const primaryRoot = process.env.GIT_GEO_TEST_PRIMARY_ROOT!;
  const repository = parseRepositoryPath(`unit/native-fetch-${process.pid}`);
  let fixture: PackFixture;

  beforeAll(async () => {
    fixture = await createPackFixture({ commits: 80 });
    await fixture.git(['clone', '--bare', '-q', fixture.dir, join(primaryRoot, `${repository}.git`)]);
  });
  afterAll(async () => {
    await fixture?.remove();
    await rm(join(primaryRoot, `${repository}.git`), { recursive: true, force: true });
  });

  /** A fetched pack's bytes: the native engine spools it to a file, which is then removed. */
  async function bytesOf(pack: FetchedPack): Promise<Buffer> {
    if (!('packPath' in pack)) return Buffer.from(pack.pack);
    const bytes = await readFile(pack.packPath);
    await discardPack(pack);
    await expect(access(pack.packPath)).rejects.toThrow(/ENOENT/);
    return bytes;
  }

  /** Stores a fetched pack next to the objects a mirror already holds, and lets git check it. */
  async function checkWithGit(name: string, pack: Uint8Array, idx: Uint8Array, refs: Record<string, string>, alternate?: string): Promise<void> {
    const repo = join(fixture.root, `mirror-${name}.git`);
    await fixture.git(['init', '--bare', '-q', repo]);
    await mkdir(join(repo, 'objects', 'pack'), { recursive: true });
    if (alternate !== undefined) await writeFile(join(repo, 'objects', 'info', 'alternates'), `${alternate}\n`);
    const packPath = join(repo, 'objects', 'pack', `${name}.pack`);
    await writeFile(packPath, pack);
    await writeFile(packPath.replace(/\.pack$/, '.idx'), idx);
    for (const [ref, oid] of Object.entries(refs)) await fixture.git(['--git-dir', repo, 'update-ref', ref, oid]);
    await fixture.git(['verify-pack', packPath.replace(/\.pack$/, '.idx')]);
    await fixture.git(['--git-dir', repo, 'fsck', '--full', '--strict', '--no-dangling']);
  }

  it.each<[FetchEngine, string[] | undefined]>([
    ['native', undefined],
    ['native', ['refs/heads/', 'refs/tags/']],
    ['isomorphic-git', undefined],
  ])('fetches a whole repository (%s engine, prefixes %j), and git accepts the pack as it is', async (engine, refPrefixes) => {
    const remote = new PrimaryRemote({ baseUrl: primaryUrl, engine });
    const discovery = await remote.discover(repository, { refPrefixes });
    expect(discovery.protocol ?? 1).toBe(refPrefixes === undefined ? 1 : 2);
    const wants = [...new Set(discovery.snapshot.refs.values())];
    const fetched = await remote.fetchPack(repository, { discovery, wants, haves: [] });
    expect(fetched).toBeDefined();
    const pack = { ...fetched!, pack: await bytesOf(fetched!) };
    await checkWithGit(`${engine}-${discovery.protocol ?? 1}-full`, pack.pack, pack.idx, Object.fromEntries(discovery.snapshot.refs));
    const packed = await fixture.indexWithGit(Buffer.from(pack.pack));
    expect(Buffer.from(pack.idx).equals(packed.idx)).toBe(true);
    expect(pack.name).toBe(packed.name);
  });

  it('fetches only what is new when told what the mirror has, and nothing when it has everything', async () => {
    const remote = new PrimaryRemote({ baseUrl: primaryUrl });
    const old = (await fixture.git(['rev-parse', 'main~30'])).toString().trim();
    const discovery = await remote.discover(repository);
    const main = discovery.snapshot.refs.get('refs/heads/main')!;
    const pack = await remote.fetchPack(repository, { discovery, wants: [main], haves: [old] });
    const expected = Number((await fixture.git(['rev-list', '--objects', '--count', main, `^${old}`])).toString().trim());
    expect(pack).toBeDefined();
    const listed = (await fixture.git(['show-index'], Buffer.from(pack!.idx))).toString().trim().split('\n');
    expect(listed).toHaveLength(expected);
    // The older objects come from an alternate, as the mirror's older packs would; the new pack is not thin (no outside delta bases).
    await checkWithGit('incremental', await bytesOf(pack!), pack!.idx, { 'refs/heads/main': main }, join(fixture.dir, 'objects'));
    expect(await remote.fetchPack(repository, { discovery, wants: [main], haves: [main] })).toBeUndefined();
    expect(await remote.fetchPack(repository, { discovery, wants: [], haves: [] })).toBeUndefined();
  });
});
