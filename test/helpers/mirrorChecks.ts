import { expect } from '@jest/globals';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { downloadMirror } from '../../bin/local/downloadMirror.ts';
import { git, listRefs } from '../../bin/local/git.ts';
import { isPackFetch, type GitRequestRecord } from '../../bin/local/startGitServer.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';

/**
 * Downloads a region's mirror of `repository`, checks it with `git fsck --full --strict` as it is
 * in the bucket, clones it with stock git and answers the clone's refs (HEAD's target under `HEAD`).
 */
export async function cloneMirror(store: ObjectStore, repository: RepositoryPath, scratch: string): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(scratch, 'mirror-'));
  return await cloneDownloaded(await downloadMirror(store, repository, dir), dir);
}

/** The same for a bare repository stored under any key prefix (a tombstone, say). */
export async function clonePrefix(store: ObjectStore, prefix: string, scratch: string): Promise<Map<string, string>> {
  const dir = await mkdtemp(join(scratch, 'prefix-'));
  const mirror = join(dir, 'repository.git');
  let count = 0;
  for await (const object of store.list(prefix)) {
    const path = join(mirror, object.key.slice(prefix.length));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, (await store.get(object.key)) ?? Buffer.alloc(0));
    count++;
  }
  if (count === 0) throw new Error(`nothing under ${prefix}`);
  return await cloneDownloaded(mirror, dir);
}

async function cloneDownloaded(mirror: string, dir: string): Promise<Map<string, string>> {
  await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: mirror });
  const clone = join(dir, 'clone.git');
  await git(['clone', '-q', '--mirror', mirror, clone]);
  await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: clone });
  return await listRefs(clone);
}

/** Asserts every region's mirror is a clean repository with exactly the primary's refs and HEAD. */
export async function expectMirrorsMatchPrimary(
  stores: readonly ObjectStore[],
  repository: RepositoryPath,
  primaryUrl: string,
  scratch: string,
): Promise<Map<string, string>> {
  const primaryRefs = await listRefs(`${primaryUrl}/${repository}.git`);
  for (const store of stores) expect(await cloneMirror(store, repository, scratch)).toEqual(primaryRefs);
  return primaryRefs;
}

/** The packs git-geo fetched from the primary for `repository` (POST git-upload-pack with its user agent). */
export function fetchesOf(requests: readonly GitRequestRecord[], repository: string): GitRequestRecord[] {
  return requests.filter(
    (request) => isPackFetch(request) && request.path === `/${repository}.git/git-upload-pack` && request.userAgent === 'git-geo',
  );
}

/** Every object key of a region's mirror of `repository`, with its content, for exact comparisons. */
export async function mirrorContents(store: ObjectStore, prefix: string): Promise<Map<string, string>> {
  const contents = new Map<string, string>();
  for await (const object of store.list(prefix)) contents.set(object.key, (await store.get(object.key))?.toString('base64') ?? '');
  return contents;
}
