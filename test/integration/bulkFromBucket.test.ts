import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { S3ObjectStore } from '../../lambdas/shared/storage/S3ObjectStore.ts';
import { pushAndConverge } from '../helpers/pushAndConverge.ts';
import { openRepository, primaryUploadPacks, storedPackNames } from '../helpers/regionReads.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

/** Each pack the endpoint built and uploaded, by its name in a client (`pack-<checksum>`), with its key. */
async function uploadedPacks(downloads: S3ObjectStore): Promise<Map<string, string>> {
  const checksums = new Map<string, string>();
  for await (const object of downloads.list('reuse/')) {
    if (object.key.endsWith('.pack')) checksums.set(`pack-${(await downloads.get(object.key))!.subarray(-20).toString('hex')}`, object.key);
  }
  return checksums;
}

/** Each reuse record in the endpoint's bucket, by key, as stored. */
async function reuseRecords(downloads: S3ObjectStore): Promise<Map<string, string>> {
  const records = new Map<string, string>();
  for await (const object of downloads.list('reuse/')) if (object.key.endsWith('.json')) records.set(object.key, (await downloads.get(object.key))!.toString('utf8'));
  return records;
}

/** Names of the packs in a repository (`pack-<checksum>`). */
async function packNames(gitDir: string): Promise<Set<string>> {
  const files = await readdir(join(gitDir, 'objects', 'pack'));
  return new Set(files.filter((file) => file.endsWith('.pack')).map((file) => file.slice(0, -'.pack'.length)));
}

/**
 * Bulk bytes straight from the region's bucket, by Git's own mechanisms: protocol v2
 * packfile-uris (pre-signed S3 URLs, here moto's on loopback, so the client opts in to http),
 * and dumb HTTP whose pack downloads are redirected to pre-signed URLs.
 */
describe('a region sends packs from its bucket: packfile-uris and dumb-HTTP redirects', () => {
  let bed: TestBed;
  let url: string;
  let primaryUrl: string;
  let work: string;
  let mirrorPacks: Set<string>;
  const repository = parseRepositoryPath('bulk/app');
  const byUri = ['-c', 'protocol.version=2', '-c', 'fetch.uriProtocols=http'];

  const push = (args: readonly string[]): Promise<void> => pushAndConverge(bed, work, repository, args);
  /** The endpoint's bucket of packs built for clients to download. */
  const downloadsStore = (): S3ObjectStore => {
    const endpoint = bed.runtime.lambdas.find((lambda) => lambda.fn.region === 'eu-west-1' && lambda.fn.environment.PACK_DOWNLOAD_BUCKET !== undefined)!;
    return new S3ObjectStore(bed.runtime.clients.region('eu-west-1').s3, endpoint.fn.environment.PACK_DOWNLOAD_BUCKET!);
  };

  beforeAll(async () => {
    bed = await startTestBed();
    ({ url, primaryUrl, work } = await openRepository(bed, repository));
    // Two syncs: two stored packs.
    await commit(work, 6, 'base');
    await git(['tag', '-a', 'v1', '-m', 'first release'], { cwd: work });
    await push(['main', '--tags']);
    await commit(work, 4, 'more');
    await push(['main']);
    mirrorPacks = await storedPackNames(bed, repository);
    expect(mirrorPacks.size).toBeGreaterThanOrEqual(2);
  }, 300_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it('a clone that opts in to packfile-uris downloads every stored pack from the bucket, and the primary is not asked', async () => {
    const primaryRefs = await listRefs(primaryUrl);
    const mark = bed.primary.requests.length;
    const clone = join(bed.root, 'by-uri.git');
    await git([...byUri, 'clone', '-q', '--bare', url, clone]);
    expect(await listRefs(clone)).toEqual(primaryRefs);
    await git(['fsck', '--full', '--strict'], { cwd: clone });
    // The stored packs themselves, by their checksums: they came by URL, not rebuilt by the endpoint.
    const cloned = await packNames(clone);
    for (const name of mirrorPacks) expect(cloned).toContain(name);
    expect(primaryUploadPacks(bed, repository, mark)).toEqual([]);
  });

  it('--single-branch and --unshallow take the stored packs by URL too; a shallow clone and a fetch are walked', async () => {
    const primaryMain = (await listRefs(primaryUrl)).get('refs/heads/main');
    const mark = bed.primary.requests.length;
    const single = join(bed.root, 'single.git');
    await git([...byUri, 'clone', '-q', '--bare', '--single-branch', '--branch', 'main', url, single]);
    expect((await listRefs(single)).get('refs/heads/main')).toBe(primaryMain);
    for (const name of mirrorPacks) expect(await packNames(single)).toContain(name);

    const shallow = join(bed.root, 'shallow');
    await git([...byUri, 'clone', '-q', '--depth', '1', url, shallow]);
    expect((await git(['rev-list', '--count', 'HEAD'], { cwd: shallow })).trim()).toBe('1');
    // A depth-1 pack is built for the client, not a stored one.
    for (const name of mirrorPacks) expect(await packNames(join(shallow, '.git'))).not.toContain(name);
    await git([...byUri, 'fetch', '-q', '--unshallow'], { cwd: shallow });
    expect((await git(['rev-parse', '--is-shallow-repository'], { cwd: shallow })).trim()).toBe('false');
    expect((await git(['rev-list', '--count', 'HEAD'], { cwd: shallow })).trim()).toBe((await git(['rev-list', '--count', 'HEAD'], { cwd: single })).trim());
    await git(['fsck', '--full', '--strict'], { cwd: shallow });

    expect(primaryUploadPacks(bed, repository, mark)).toEqual([]);

    await commit(work, 2, 'later');
    await push(['main']);
    const later = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const fetchMark = bed.primary.requests.length;
    const before = await packNames(join(shallow, '.git'));
    await git([...byUri, 'fetch', '-q', 'origin'], { cwd: shallow });
    expect((await git(['rev-parse', 'origin/main'], { cwd: shallow })).trim()).toBe(later);
    // The new commits alone, walked: no stored pack again.
    expect([...(await packNames(join(shallow, '.git')))].filter((name) => !before.has(name) && mirrorPacks.has(name))).toEqual([]);
    await git(['fsck', '--full', '--strict'], { cwd: shallow });
    expect(primaryUploadPacks(bed, repository, fetchMark)).toEqual([]);
  });

  it('dumb HTTP: packs within what Lambda streams are served directly, as git follows no redirect on them by default', async () => {
    const primaryRefs = await listRefs(primaryUrl);
    const clone = join(bed.root, 'dumb.git');
    await git(['-c', 'protocol.version=0', 'clone', '-q', '--bare', url, clone]);
    expect(await listRefs(clone)).toEqual(primaryRefs);
    await git(['fsck', '--full', '--strict'], { cwd: clone });
  });
  it('a walked pack past the fast 6 MB of a Lambda response goes by URL (shallow, partial, lazy and incremental fetches); without the opt-in, inline', async () => {
    // Bytes that no delta or zlib shrinks: 9 MiB added then removed, and 7 MiB at the tip, so a depth-1 pack passes the threshold.
    await writeFile(join(work, 'old.bin'), randomBytes(9 * 2 ** 20));
    await git(['add', 'old.bin'], { cwd: work });
    await git(['commit', '-q', '-m', 'an old big file'], { cwd: work });
    const withOld = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const oldBlob = (await git(['rev-parse', 'HEAD:old.bin'], { cwd: work })).trim();
    await git(['rm', '-q', 'old.bin'], { cwd: work });
    await writeFile(join(work, 'big.bin'), randomBytes(7 * 2 ** 20));
    await git(['add', 'big.bin'], { cwd: work });
    await git(['commit', '-q', '-m', 'a big file'], { cwd: work });
    await push(['main']);
    const main = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const uploaded = (): Promise<Map<string, string>> => uploadedPacks(downloadsStore());
    const mark = bed.primary.requests.length;

    const shallow = join(bed.root, 'shallow-big');
    await git([...byUri, 'clone', '-q', '--depth', '1', url, shallow]);
    expect((await git(['rev-parse', 'HEAD'], { cwd: shallow })).trim()).toBe(main);
    expect((await git(['rev-list', '--count', 'HEAD'], { cwd: shallow })).trim()).toBe('1');
    await git(['fsck', '--full', '--strict'], { cwd: shallow });
    // The client indexed the uploaded pack under its own checksum: the bytes came from the bucket.
    const byUrl = [...(await packNames(join(shallow, '.git')))].filter((name) => !mirrorPacks.has(name));
    const stored = await uploaded();
    expect(byUrl.filter((name) => stored.has(name))).toHaveLength(1);

    // A client that did not opt in gets the same commit inline, and nothing more is uploaded.
    const inline = join(bed.root, 'shallow-inline');
    await git(['-c', 'protocol.version=2', 'clone', '-q', '--depth', '1', url, inline]);
    expect((await git(['rev-parse', 'HEAD'], { cwd: inline })).trim()).toBe(main);
    await git(['fsck', '--full', '--strict'], { cwd: inline });
    expect((await uploaded()).size).toBe(stored.size);

    // A partial clone whose pack passes the threshold (the 7 MiB blob is under the filter's limit),
    // then a checkout of the commit with the 9 MiB blob it left out: fetched lazily, by URL too.
    const partial = join(bed.root, 'partial-big');
    await git([...byUri, 'clone', '-q', '--filter=blob:limit=8m', '--no-checkout', url, partial]);
    expect((await uploaded()).size).toBe(stored.size + 1);
    // Listed as missing (`?<id>`), which lists without fetching it (cat-file would fetch it lazily).
    expect((await git(['rev-list', '--objects', '--missing=print', withOld], { cwd: partial })).split('\n')).toContain(`?${oldBlob}`);
    await git([...byUri, 'checkout', '-q', withOld], { cwd: partial });
    expect((await git(['hash-object', 'old.bin'], { cwd: partial })).trim()).toBe(oldBlob);
    expect((await uploaded()).size).toBe(stored.size + 2);
    await git(['fsck', '--full', '--strict'], { cwd: partial });
    expect(primaryUploadPacks(bed, repository, mark)).toEqual([]);

    // A fetch with haves (thin) whose pack is big goes by URL too, and index-pack completes it.
    await writeFile(join(work, 'big2.bin'), randomBytes(7 * 2 ** 20));
    await git(['add', 'big2.bin'], { cwd: work });
    await git(['commit', '-q', '-m', 'another big file'], { cwd: work });
    await push(['main']);
    const fetchMark = bed.primary.requests.length;
    await git([...byUri, 'fetch', '-q', 'origin'], { cwd: shallow });
    expect((await git(['rev-parse', 'origin/main'], { cwd: shallow })).trim()).toBe((await git(['rev-parse', 'HEAD'], { cwd: work })).trim());
    await git(['fsck', '--full', '--strict'], { cwd: shallow });
    expect((await uploaded()).size).toBe(stored.size + 3);
    expect(primaryUploadPacks(bed, repository, fetchMark)).toEqual([]);
  }, 120_000);

  it('a depth-1 clone asked again is answered with the pack built the first time; after a push, a new one is built', async () => {
    const downloads = downloadsStore();
    const main = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const before = await reuseRecords(downloads);
    const first = join(bed.root, 'ci-1');
    await git([...byUri, 'clone', '-q', '--depth', '1', url, first]);
    const afterFirst = await reuseRecords(downloads);
    const added = [...afterFirst.keys()].filter((key) => !before.has(key));
    expect(added).toHaveLength(1);
    const record = JSON.parse(afterFirst.get(added[0]!)!) as { checksum: string; shallow: string[] };
    expect(record.shallow).toEqual([main]);

    // The second runner: the same request and mirror state, so no build and no upload; the record is untouched.
    const second = join(bed.root, 'ci-2');
    await git([...byUri, 'clone', '-q', '--depth', '1', url, second]);
    expect(await reuseRecords(downloads)).toEqual(afterFirst);
    for (const clone of [first, second]) {
      expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe(main);
      expect((await git(['rev-parse', '--is-shallow-repository'], { cwd: clone })).trim()).toBe('true');
      await git(['fsck', '--full', '--strict'], { cwd: clone });
      expect(await packNames(join(clone, '.git'))).toContain(`pack-${record.checksum}`);
    }

    // A push changes the mirror: the next depth-1 clone is built again, for the new commit.
    await commit(work, 1, 'after the runners');
    await push(['main']);
    const later = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const third = join(bed.root, 'ci-3');
    await git([...byUri, 'clone', '-q', '--depth', '1', url, third]);
    expect((await git(['rev-parse', 'HEAD'], { cwd: third })).trim()).toBe(later);
    await git(['fsck', '--full', '--strict'], { cwd: third });
    expect((await reuseRecords(downloads)).size).toBe(afterFirst.size + 1);
  }, 120_000);

});
