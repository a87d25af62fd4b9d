import { expect } from '@jest/globals';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { git } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { TestBed } from './testRuntime.ts';

/** Pushes from `work`, sends the webhooks, and waits until every region holds every event of the repository. */
export async function pushAndConverge(bed: TestBed, work: string, repository: RepositoryPath, args: readonly string[]): Promise<void> {
  await git(['push', '-q', 'origin', ...args], { cwd: work });
  expect(new Set(await bed.notifyPushes())).toEqual(new Set([202]));
  // Every event processed, or the region rightly sends readers to the primary.
  const { dynamodb } = bed.runtime.clients.region(bed.runtime.primary.region);
  const latest = await new EventLog(DynamoDBDocumentClient.from(dynamodb), bed.runtime.primary.eventLogTable).latest(repository);
  await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 90_000, minSequence: latest?.latestSequence ?? 0 });
}
