import type { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { RepositoryNotFoundError } from '../../lambdas/shared/errors/index.ts';
import { MirrorRepository } from '../../lambdas/shared/git/MirrorRepository.ts';
import type { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { filterRefs, sameRefs } from '../../lambdas/shared/git/RefSnapshot.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';

export interface RegionMismatch {
  readonly region: string;
  readonly repository: string;
}

/**
 * For a planned promotion (RPO zero): waits until every region's mirror of every repository the
 * event log knows has exactly the primary's current refs and HEAD, asking the primary itself (not
 * the event log). Answers the mismatches left when the time is up (none: every region is equal).
 */
export async function waitUntilRegionsMatch(options: {
  eventLog: EventLog;
  primary: PrimaryRemote;
  regions: readonly { region: string; store: ObjectStore }[];
  refNamespaces: readonly string[];
  timeoutMs: number;
  onProgress?: (mismatches: readonly RegionMismatch[]) => void;
}): Promise<RegionMismatch[]> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const mismatches: RegionMismatch[] = [];
    for await (const head of options.eventLog.heads()) {
      const repository = parseRepositoryPath(head.repository);
      let wanted;
      try {
        wanted = filterRefs((await options.primary.discover(repository)).snapshot, options.refNamespaces);
      } catch (error) {
        if (error instanceof RepositoryNotFoundError) continue;
        throw error;
      }
      for (const { region, store } of options.regions) {
        const mirror = await new MirrorRepository(store, repository).readState();
        const held = mirror?.snapshot;
        const headMatches = wanted.head === undefined || held?.head === wanted.head;
        if (held === undefined || !sameRefs({ ...held, head: wanted.head }, wanted) || !headMatches) mismatches.push({ region, repository });
      }
    }
    options.onProgress?.(mismatches);
    if (mismatches.length === 0 || Date.now() > deadline) return mismatches;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
