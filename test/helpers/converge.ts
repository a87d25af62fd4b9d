import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { TestBed } from './testRuntime.ts';

/** Waits until every region has processed every event the primary region recorded for the repository. */
export async function convergeAll(bed: TestBed, repository: RepositoryPath, timeoutMs = 90_000): Promise<void> {
  const { dynamodb } = bed.runtime.clients.region(bed.runtime.primary.region);
  const latest = await new EventLog(DynamoDBDocumentClient.from(dynamodb), bed.runtime.primary.eventLogTable).latest(repository);
  await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs, minSequence: latest?.latestSequence ?? 0 });
}
