import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { git } from '../local/git.ts';

/** Clones a host's repository into `<root>/work/<path>`, commits a README and pushes it to main; answers the working copy. */
export async function initialPush(root: string, hostUrl: string, repository: RepositoryPath): Promise<string> {
  const dir = join(root, 'work', repository);
  await mkdir(dir, { recursive: true });
  await git(['clone', '-q', `${hostUrl}/${repository}.git`, dir]);
  await writeFile(join(dir, 'README'), `${repository}\n`);
  await git(['add', 'README'], { cwd: dir });
  await git(['commit', '-q', '-m', 'initial'], { cwd: dir });
  await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: dir });
  return dir;
}
