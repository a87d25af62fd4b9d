import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { git } from '../local/git.ts';
import { runPool } from './runPool.ts';

/** A push the primary acknowledged: a commit the drills expect to find in the regions. */
export interface AcknowledgedPush {
  readonly repository: RepositoryPath;
  readonly commit: string;
  readonly at: number;
}

export interface PushStorm {
  /** Pushes acknowledged so far, in order. */
  readonly acknowledged: readonly AcknowledgedPush[];
  /** Stops every worker after its current push and waits for them. */
  stop(): Promise<void>;
}

/**
 * One worker per working copy commits and pushes to `main` in a loop until stopped. A worker
 * whose push fails stops (the primary is gone or refused); `onPushFailed` hears why.
 */
export function startPushStorm(workingCopies: ReadonlyMap<RepositoryPath, string>, onPushFailed?: (repository: RepositoryPath, error: Error) => void): PushStorm {
  const acknowledged: AcknowledgedPush[] = [];
  let storming = true;
  const repositories = [...workingCopies.keys()];
  const workers = runPool(repositories, repositories.length, async (repository) => {
    const dir = workingCopies.get(repository)!;
    for (let i = 0; storming; i++) {
      await writeFile(join(dir, `storm-${i}.txt`), `${i}\n`);
      await git(['add', '.'], { cwd: dir });
      await git(['commit', '-q', '-m', `storm ${i}`], { cwd: dir });
      const commit = (await git(['rev-parse', 'HEAD'], { cwd: dir })).trim();
      try {
        await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: dir });
      } catch (error) {
        if (storming) onPushFailed?.(repository, error as Error);
        return;
      }
      acknowledged.push({ repository, commit, at: Date.now() });
    }
  });
  return {
    acknowledged,
    stop: async () => {
      storming = false;
      await workers;
    },
  };
}
