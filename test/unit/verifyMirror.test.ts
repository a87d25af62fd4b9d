import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRepository } from '../../bin/local/generateRepository.ts';
import { git } from '../../bin/local/git.ts';
import { BARE_CONFIG } from '../../lambdas/shared/git/MirrorRepository.ts';
import { verifyMirror, VERIFIED_PACKS_PREFIX } from '../../lambdas/shared/git/verifyMirror.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { MemoryObjectStore } from '../../lambdas/shared/storage/MemoryObjectStore.ts';

const REPOSITORY = parseRepositoryPath('group/project');
const PREFIX = 'group/project.git/';

/** A bare repository made by real git, laid out as a mirror: two packs (the second's objects point into the first), packed refs, info files. */
async function mirrorFixture(root: string): Promise<MemoryObjectStore> {
  const dir = join(root, 'repo.git');
  await git(['init', '--bare', '-q', '-b', 'main', dir]);
  await generateRepository(dir, { commits: 30, files: 10 });
  await git(['tag', '-a', '-m', 'release', 'v1', 'main'], { cwd: dir });
  await git(['repack', '-adq'], { cwd: dir });
  const tip = (await git(['rev-parse', 'main'], { cwd: dir })).trim();
  await generateRepository(dir, { commits: 5, files: 10, startAt: 30, parent: tip, seed: 7 });
  await git(['repack', '-dq'], { cwd: dir });
  await git(['tag', 'light', 'main~2'], { cwd: dir });
  await git(['update-ref', 'refs/merge-requests/1/head', 'main~1'], { cwd: dir });
  await git(['pack-refs', '--all'], { cwd: dir });
  await git(['update-server-info'], { cwd: dir });
  const store = new MemoryObjectStore();
  const files = ['HEAD', 'packed-refs', 'info/refs', 'objects/info/packs'];
  for (const name of await readdir(join(dir, 'objects', 'pack'))) if (/\.(pack|idx)$/.test(name)) files.push(`objects/pack/${name}`);
  for (const file of files) await store.put(PREFIX + file, await readFile(join(dir, file)));
  // As MirrorRepository lays out every mirror.
  await store.put(`${PREFIX}config`, BARE_CONFIG);
  await store.put(`${PREFIX}refs/heads/.keep`, '');
  return store;
}

function packNames(store: MemoryObjectStore): string[] {
  return [...store.objects.keys()].filter((key) => key.startsWith(PREFIX) && key.endsWith('.pack'));
}

describe('verifyMirror: a mirror proven whole from its bytes', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'git-geo-verify-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('passes a whole mirror, hashing each pack once and recalling it after', async () => {
    const store = await mirrorFixture(join(root, 'whole'));
    expect(packNames(store)).toHaveLength(2);
    const first = await verifyMirror(store, REPOSITORY);
    expect(first.problems).toEqual([]);
    expect(first.packsHashed).toBe(2);
    expect(first.snapshot?.refs.get('refs/merge-requests/1/head')).toMatch(/^[0-9a-f]{40}$/);
    const second = await verifyMirror(store, REPOSITORY);
    expect(second.ok).toBe(true);
    expect(second.packsHashed).toBe(0);
    expect(second.objects).toBe(first.objects);
  });

  it('finds a flipped byte inside a pack that was remembered as verified', async () => {
    const store = await mirrorFixture(join(root, 'flip'));
    expect((await verifyMirror(store, REPOSITORY)).ok).toBe(true);
    const key = packNames(store)[0]!;
    const pack = store.objects.get(key)!;
    pack[Math.floor(pack.length / 2)]! ^= 0xff;
    const result = await verifyMirror(store, REPOSITORY);
    expect(result.ok).toBe(false);
    expect(result.problems.map((problem) => problem.code)).toContain('pack-corrupt');
  });

  it('finds a pack whose size is unchanged but whose index lies, a deleted pack, a truncated one, and objects missing across packs', async () => {
    const store = await mirrorFixture(join(root, 'damage'));
    const [older, newer] = packNames(store).sort((a, b) => store.objects.get(b)!.length - store.objects.get(a)!.length);
    // The smaller (newer) pack's commits point at the older pack's objects: delete the older one.
    store.objects.delete(older!);
    const deleted = await verifyMirror(store, REPOSITORY, { remember: false });
    expect(deleted.problems.map((problem) => problem.code)).toContain('pack-missing');

    const truncatedStore = await mirrorFixture(join(root, 'truncate'));
    const key = packNames(truncatedStore)[0]!;
    truncatedStore.objects.set(key, truncatedStore.objects.get(key)!.subarray(0, 100));
    expect((await verifyMirror(truncatedStore, REPOSITORY)).problems.map((problem) => problem.code)).toContain('pack-corrupt');

    // The older pack unlisted but its files left: the newer pack's links leave the mirror.
    const unlisted = await mirrorFixture(join(root, 'unlisted'));
    const names = packNames(unlisted).sort((a, b) => unlisted.objects.get(b)!.length - unlisted.objects.get(a)!.length);
    const olderName = names[0]!.slice(`${PREFIX}objects/pack/`.length, -'.pack'.length);
    const list = unlisted.objects.get(`${PREFIX}objects/info/packs`)!.toString().split('\n').filter((line) => !line.includes(olderName)).join('\n');
    await unlisted.put(`${PREFIX}objects/info/packs`, list);
    const result = await verifyMirror(unlisted, REPOSITORY);
    expect(result.problems.map((problem) => problem.code)).toEqual(expect.arrayContaining(['object-missing']));
    expect(newer).toBeDefined();
  });

  it('finds a mirror a download would not make a repository of: a changed config, a missing refs/ directory', async () => {
    const store = await mirrorFixture(join(root, 'files'));
    await store.put(`${PREFIX}config`, '[core]\n\tbare = false\n');
    expect((await verifyMirror(store, REPOSITORY)).problems.map((problem) => problem.code)).toEqual(['repository-files']);
    await store.put(`${PREFIX}config`, BARE_CONFIG);
    await store.delete([`${PREFIX}refs/heads/.keep`]);
    expect((await verifyMirror(store, REPOSITORY)).problems.map((problem) => problem.code)).toEqual(['repository-files']);
  });

  it('finds refs that disagree: info/refs moved without packed-refs, and a ref pointing at no object', async () => {
    const store = await mirrorFixture(join(root, 'refs'));
    const infoRefs = store.objects.get(`${PREFIX}info/refs`)!.toString();
    await store.put(`${PREFIX}info/refs`, infoRefs.replace(/^[0-9a-f]{40}(\trefs\/heads\/main)$/m, `${'1'.repeat(40)}$1`));
    const result = await verifyMirror(store, REPOSITORY);
    expect(result.problems.map((problem) => problem.code)).toEqual(expect.arrayContaining(['refs-inconsistent', 'ref-target-missing']));
    expect(Object.keys(Object.fromEntries(store.objects)).some((key) => key.startsWith(VERIFIED_PACKS_PREFIX))).toBe(true);
  });
});
