import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateBigRepository } from '../../bench/generateBigRepository.ts';
import { git, listRefs } from '../../bin/local/git.ts';
import { MirrorRepository } from '../../lambdas/shared/git/MirrorRepository.ts';
import { bundleKey } from '../../lambdas/shared/git/mirrorBundle.ts';
import { decodePktLines, encodeFlush, encodePktLine } from '../../lambdas/shared/git/pktLine.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { pushAndConverge } from '../helpers/pushAndConverge.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const execFileAsync = promisify(execFile);

/** Each pack of a repository (`pack-<checksum>`) and its size. */
async function packs(gitDir: string): Promise<Map<string, number>> {
  const dir = join(gitDir, 'objects', 'pack');
  const sizes = new Map<string, number>();
  for (const file of await readdir(dir)) if (file.endsWith('.pack')) sizes.set(file.slice(0, -'.pack'.length), (await stat(join(dir, file))).size);
  return sizes;
}

/** Refs of a clone without the ones `--bundle-uri` adds (refs/bundles/*), to compare with the primary's. */
async function clonedRefs(gitDir: string): Promise<Map<string, string>> {
  return new Map([...(await listRefs(gitDir))].filter(([name]) => !name.startsWith('refs/bundles/')));
}

/** Stock git with its stderr (where it warns about a bundle it could not use). */
async function gitWithStderr(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync('git', [...args], { maxBuffer: 64 * 2 ** 20, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' } });
}

/**
 * bundle-uri through a region: a sync that stores a pack closed over the mirror's refs (here the
 * first sync) writes a bundle of it into the bucket (a header, the pack copied behind it by
 * UploadPartCopy), and `<region>/<repo>.git/bundle` answers a bundle list naming it by a
 * pre-signed URL. Stock git 2.39 downloads it from the bucket, then fetches only the rest from
 * the region.
 */
describe('bundle-uri: clones seeded from a bundle in the bucket', () => {
  let bed: TestBed;
  let work: string;
  let storedPack: string;
  const big = parseRepositoryPath('bundles/big');
  const small = parseRepositoryPath('bundles/small');
  const regionUrl = (repository: string): string => `${bed.runtime.regions['eu-west-1']!.gitUrl}/${repository}.git`;
  const primaryUrl = (repository: string): string => `${bed.primary.url}/${repository}.git`;

  beforeAll(async () => {
    // A 1 MiB threshold, so that a 7 MiB repository (more than S3's 5 MiB first part) gets a bundle.
    bed = await startTestBed({ config: { bundleMinPackMiB: 1, secondaryRegions: ['eu-west-1'] } });
    await bed.createRepository(big);
    work = await bed.workingCopy(big);
    await generateBigRepository(join(work, '.git'), 7);
    await git(['reset', '-q', '--hard', 'main'], { cwd: work });
    await git(['tag', '-a', 'v1', '-m', 'first release'], { cwd: work });
    await pushAndConverge(bed, work, big, ['main', '--tags']);
    // Two more syncs: two more packs, newer than the bundle.
    await commit(work, 3, 'second');
    await pushAndConverge(bed, work, big, ['main']);
    await git(['checkout', '-q', '-b', 'topic'], { cwd: work });
    await commit(work, 2, 'topic');
    await pushAndConverge(bed, work, big, ['topic']);

    await bed.createRepository(small);
    const smallWork = await bed.workingCopy(small);
    await commit(smallWork, 3, 'small');
    await pushAndConverge(bed, smallWork, small, ['main']);

    const state = await new MirrorRepository(bed.runtime.mirrors('eu-west-1'), big).readState();
    expect(state?.packs.length).toBeGreaterThanOrEqual(3);
    expect(state?.bundle).toBeDefined();
    storedPack = state!.bundle!.pack;
    expect(state!.packs).toContain(storedPack);
  }, 600_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it('the bundle in the bucket is the stored pack behind a header of the refs it was closed at', async () => {
    const mirror = new MirrorRepository(bed.runtime.mirrors('eu-west-1'), big);
    const state = await mirror.readState();
    const bundle = await mirror.store.head(bundleKey(mirror, state!.bundle!.name));
    const pack = await mirror.store.head(mirror.key(`objects/pack/${storedPack}.pack`));
    expect(bundle!.size).toBeGreaterThan(pack!.size);
    expect(bundle!.size - pack!.size).toBeLessThan(1024);
  });

  it('git clone --bundle-uri takes the bulk from the bucket and the rest from the region: refs as the primary, fsck clean', async () => {
    const list = await fetch(`${regionUrl(big)}/bundle`);
    expect(list.status).toBe(200);
    const text = await list.text();
    // A pre-signed URL of the bucket (moto here), never the endpoint.
    const uri = /uri = "([^"]+)"/.exec(text)?.[1];
    expect(uri).toContain('X-Amz-Signature=');
    expect(new URL(uri!).host).not.toBe(new URL(regionUrl(big)).host);

    const clone = join(bed.root, 'seeded.git');
    await git(['clone', '-q', '--bare', `--bundle-uri=${regionUrl(big)}/bundle`, regionUrl(big), clone]);
    expect(await clonedRefs(clone)).toEqual(await listRefs(primaryUrl(big)));
    await git(['fsck', '--full', '--strict'], { cwd: clone });
    // git kept the bundle's tips, and the bundle's pack is the stored one, byte for byte (same checksum).
    expect((await listRefs(clone)).get('refs/bundles/main')).toBeDefined();
    const cloned = await packs(clone);
    expect(cloned.get(storedPack)).toBeGreaterThan(7 * 2 ** 20);
    // What the endpoint sent: only the commits after the bundle, a few KiB, not the 7 MiB.
    const rest = [...cloned].filter(([name]) => name !== storedPack).reduce((sum, [, size]) => sum + size, 0);
    expect(rest).toBeLessThan(64 * 1024);
  });

  it('after new pushes and syncs the older bundle still seeds a clone, and the region sends what is newer', async () => {
    await git(['checkout', '-q', 'main'], { cwd: work });
    await writeFile(join(work, 'later.txt'), 'later\n');
    await git(['add', 'later.txt'], { cwd: work });
    await git(['commit', '-q', '-m', 'later'], { cwd: work });
    await git(['tag', 'v2'], { cwd: work });
    await pushAndConverge(bed, work, big, ['main', 'v2']);
    const state = await new MirrorRepository(bed.runtime.mirrors('eu-west-1'), big).readState();
    expect(state?.bundle?.pack).toBe(storedPack);

    const clone = join(bed.root, 'seeded-later');
    await git(['clone', '-q', `--bundle-uri=${regionUrl(big)}/bundle`, regionUrl(big), clone]);
    expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe((await git(['rev-parse', 'main'], { cwd: work })).trim());
    expect((await git(['rev-parse', 'v2'], { cwd: clone })).trim()).toBe((await git(['rev-parse', 'main'], { cwd: work })).trim());
    expect((await packs(join(clone, '.git'))).has(storedPack)).toBe(true);
    await git(['fsck', '--full', '--strict'], { cwd: clone });
  });

  it('a repository without a bundle answers 404, and git warns and clones as usual', async () => {
    const answer = await fetch(`${regionUrl(small)}/bundle`);
    expect(answer.status).toBe(404);
    const clone = join(bed.root, 'unseeded.git');
    const { stderr } = await gitWithStderr(['clone', '--bare', `--bundle-uri=${regionUrl(small)}/bundle`, regionUrl(small), clone]);
    expect(stderr).toContain('failed to download bundle from URI');
    expect(await clonedRefs(clone)).toEqual(await listRefs(primaryUrl(small)));
    await git(['fsck', '--full', '--strict'], { cwd: clone });
  });

  it('protocol v2 advertises bundle-uri and answers the same bundle list (for git ≥ 2.40 with transfer.bundleURI)', async () => {
    const advertised = await fetch(`${regionUrl(big)}/info/refs?service=git-upload-pack`, { headers: { 'git-protocol': 'version=2' } });
    expect(await advertised.text()).toContain('bundle-uri\n');
    const request = Buffer.concat([encodePktLine('command=bundle-uri\n'), encodePktLine('agent=test\n'), encodePktLine('object-format=sha1\n'), Buffer.from('0001', 'latin1'), encodeFlush()]);
    const answer = await fetch(`${regionUrl(big)}/git-upload-pack`, {
      method: 'POST',
      headers: { 'git-protocol': 'version=2', 'content-type': 'application/x-git-upload-pack-request' },
      body: request,
    });
    expect(answer.status).toBe(200);
    const lines = decodePktLines(Buffer.from(await answer.arrayBuffer()))
      .filter((line): line is Buffer => line !== null)
      .map((line) => line.toString('utf8').trim());
    expect(lines).toContain('bundle.version=1');
    expect(lines).toContain('bundle.mode=all');
    const uri = lines.find((line) => /^bundle\.bundle-[0-9a-f]+\.uri=/.test(line))?.split('=').slice(1).join('=');
    // The URL gives the bundle itself: git bundle verify accepts it in an empty repository (no prerequisites).
    const file = join(bed.root, 'advertised.bundle');
    await writeFile(file, Buffer.from(await (await fetch(uri!)).arrayBuffer()));
    const empty = join(bed.root, 'empty.git');
    await git(['init', '-q', '--bare', empty]);
    const heads = await git(['bundle', 'list-heads', file], { cwd: empty });
    expect(heads).toContain('refs/heads/main');
    expect(heads).toContain('refs/tags/v1');
    await git(['bundle', 'verify', '-q', file], { cwd: empty });

    // A repository without a bundle: an empty list.
    const none = await fetch(`${regionUrl(small)}/git-upload-pack`, { method: 'POST', headers: { 'git-protocol': 'version=2' }, body: request });
    expect(Buffer.from(await none.arrayBuffer()).toString('latin1')).toBe('0000');
  });
});
