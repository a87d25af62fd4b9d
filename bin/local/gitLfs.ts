import { git } from './git.ts';

/**
 * git options that turn on the git-lfs filters, as `git lfs install` does in a user's global
 * config: our git() helper ignores the system config, so nothing depends on the machine's.
 */
export const LFS_FILTERS: readonly string[] = [
  '-c', 'filter.lfs.clean=git-lfs clean -- %f',
  '-c', 'filter.lfs.smudge=git-lfs smudge -- %f',
  '-c', 'filter.lfs.process=git-lfs filter-process',
  '-c', 'filter.lfs.required=true',
];

/** Turns git-lfs on in one working copy (filters and its pre-push hook) and tracks these patterns. */
export async function enableLfs(dir: string, patterns: readonly string[]): Promise<void> {
  await git(['lfs', 'install', '--local'], { cwd: dir });
  for (const pattern of patterns) await git(['lfs', 'track', pattern], { cwd: dir });
}
