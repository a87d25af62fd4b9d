import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mirrorPrefix } from '../../lambdas/shared/git/MirrorRepository.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';

/**
 * Copies one repository's mirror out of a region's bucket into a local directory, object
 * for object, and answers that directory: an ordinary bare repository stock git can clone.
 */
export async function downloadMirror(store: ObjectStore, repository: RepositoryPath, into: string): Promise<string> {
  const prefix = mirrorPrefix(repository);
  const target = join(into, `${repository}.git`);
  let count = 0;
  for await (const object of store.list(prefix)) {
    const relative = object.key.slice(prefix.length);
    const body = await store.get(object.key);
    if (body === undefined) continue;
    const path = join(target, relative);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    count++;
  }
  if (count === 0) throw new Error(`no mirror of ${repository} in the bucket`);
  return target;
}
