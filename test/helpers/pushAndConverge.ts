import { expect } from '@jest/globals';
import { git } from '../../bin/local/git.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { convergeAll } from './converge.ts';
import type { TestBed } from './testRuntime.ts';

/** Pushes from `work`, sends the webhooks, and waits until every region holds every event of the repository. */
export async function pushAndConverge(bed: TestBed, work: string, repository: RepositoryPath, args: readonly string[]): Promise<void> {
  await git(['push', '-q', 'origin', ...args], { cwd: work });
  expect(new Set(await bed.notifyPushes())).toEqual(new Set([202]));
  // Every event processed, or the region rightly sends readers to the primary.
  await convergeAll(bed, repository);
}
