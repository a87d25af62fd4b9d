import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isolatedGitEnv } from './isolatedGitEnv.ts';

const execFileAsync = promisify(execFile);

/** Branch names chosen so that git's byte order differs from JavaScript's UTF-16 order and from naive orders. */
export const BRANCHES = [
  'refs/heads/main',
  'refs/heads/Zebra',
  'refs/heads/a-b',
  'refs/heads/a/b',
  'refs/heads/a.b',
  'refs/heads/\uff5ewide',
  'refs/heads/\u{1f600}smile',
];

/** A bare repository written by real git: branches, a lightweight and two annotated tags, one pack. */
export interface RealGitRepository {
  readonly dir: string;
  /** Runs git in the bare repository and answers its stdout. */
  git(...args: string[]): Promise<string>;
  /** Reads a file of the bare repository as raw bytes. */
  read(path: string): Promise<Buffer>;
  remove(): Promise<void>;
}

export async function createRealGitRepository(): Promise<RealGitRepository> {
  const root = await mkdtemp(join(tmpdir(), 'git-geo-unit-git-'));
  const env = isolatedGitEnv(root, { GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z', GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z' });
  const run = async (cwd: string, args: string[]): Promise<string> => (await execFileAsync('git', args, { cwd, env, encoding: 'utf8' })).stdout;
  const work = join(root, 'work');
  const dir = join(root, 'repo.git');
  await run(root, ['init', '--quiet', '--initial-branch=main', work]);
  await writeFile(join(work, 'README.md'), 'one\n');
  await run(work, ['add', 'README.md']);
  await run(work, ['commit', '--quiet', '-m', 'first']);
  await run(work, ['tag', '-a', 'v1.0.0', '-m', 'release 1.0.0']);
  await run(work, ['tag', 'lightweight']);
  await writeFile(join(work, 'README.md'), 'two\n');
  await run(work, ['commit', '--quiet', '-am', 'second']);
  await run(work, ['tag', '-a', 'v2.0.0', '-m', 'release 2.0.0']);
  for (const ref of BRANCHES) {
    if (ref !== 'refs/heads/main') await run(work, ['update-ref', ref, 'HEAD~1']);
  }
  await run(root, ['clone', '--quiet', '--bare', '--no-local', work, dir]);
  await run(dir, ['repack', '-a', '-d', '-q']);
  await run(dir, ['pack-refs', '--all']);
  await run(dir, ['update-server-info']);
  return {
    dir,
    git: (...args) => run(dir, args),
    read: (path) => readFile(join(dir, path)),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}
