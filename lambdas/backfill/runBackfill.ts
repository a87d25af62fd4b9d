import { randomUUID } from 'node:crypto';
import { repositoriesOf } from '../replicable/registry.ts';
import type { ReplicableType } from '../replicable/ReplicableType.ts';
import type { SyncRequester } from '../shared/events/SyncRequester.ts';
import type { BackfillProgress, RegionControl } from '../shared/registry/RegionControl.ts';
import type { Registry } from '../shared/registry/Registry.ts';
import { parseRepositoryPath, type RepositoryPath } from '../shared/repositoryPath.ts';
import { isIncluded, type SelectiveSyncRule } from '../shared/selectiveSync/SelectiveSyncRule.ts';
import type { RepositoryLister } from './RepositoryLister.ts';
import type { TokenBucket } from './TokenBucket.ts';

export interface BackfillOutcome {
  /** Where the backfill stands (undefined: never started, and another run holds the lease). */
  readonly progress: BackfillProgress | undefined;
  /** Another run holds the backfill's lease: this one did nothing. */
  readonly busy?: boolean;
}

/**
 * Requests to the primary one requested sync makes: protocol v2's discovery is two (the
 * capability advertisement and ls-refs), then the fetch. A v0 host takes two; pacing for three
 * keeps the bound for both.
 */
export const PRIMARY_REQUESTS_PER_SYNC = 3;

export interface BackfillDependencies {
  readonly lister: RepositoryLister;
  readonly requester: SyncRequester;
  readonly registry: Registry;
  readonly control: RegionControl;
  readonly rule: SelectiveSyncRule;
  readonly ruleVersion: string;
  /** Paces every request the backfill causes the primary: listing pages and the syncs it requests. */
  readonly bucket: TokenBucket;
  readonly now: () => Date;
  /** Stop (progress saved) once this time (ms since epoch) has passed; the next run resumes. */
  readonly deadline?: number;
  /** Start over even when a backfill with this rule completed. */
  readonly restart?: boolean;
  /** Leave repositories the registry says deleted alone (the event log lists deleted repositories too). */
  readonly skipDeleted?: boolean;
  readonly onProgress?: (progress: BackfillProgress) => void;
  /** @default REPLICABLE_TYPES */
  readonly types?: readonly ReplicableType[];
}

/**
 * Enumerates the primary's projects and asks this region to sync each repository of theirs (of
 * every repository type: the project, its wiki...) it holds under
 * its selective-sync rule and does not hold yet, at a bounded rate (a token bucket paces the
 * listing and the requested syncs together). Resumable: the listing's cursor and the counts
 * are saved in the region's control record after every page, so a run that stops (deadline,
 * crash) resumes at that page. Idempotent: a repository the registry already has (mirrored,
 * or requested) is not requested again, and a repeated page requests nothing twice.
 * A completed backfill with the same rule is not run again unless asked (`restart`).
 */
export async function runBackfill(deps: BackfillDependencies): Promise<BackfillOutcome> {
  const { control } = deps;
  const saved = (await control.get()).backfill;
  const fresh = deps.restart === true || saved === undefined || saved.ruleVersion !== deps.ruleVersion;
  if (!fresh && saved.state === 'complete') return { progress: saved };
  const owner = randomUUID();
  const leaseMs = Math.max(60_000, (deps.deadline ?? Date.now() + 900_000) - Date.now() + 60_000);
  if (!(await control.acquireBackfillLease(owner, new Date(Date.now() + leaseMs).toISOString(), new Date().toISOString()))) {
    return { progress: saved, busy: true };
  }
  try {
    return { progress: await backfillPages(deps, fresh ? undefined : saved) };
  } finally {
    await control.releaseBackfillLease(owner);
  }
}

async function backfillPages(deps: BackfillDependencies, saved: BackfillProgress | undefined): Promise<BackfillProgress> {
  const { control, registry } = deps;
  const fresh = saved === undefined;
  const startedAt = deps.now().toISOString();
  let progress: BackfillProgress = fresh
    ? { state: 'running', ruleVersion: deps.ruleVersion, listed: 0, requested: 0, excluded: 0, startedAt, updatedAt: startedAt }
    : saved;
  await control.saveBackfill(progress);
  deps.onProgress?.(progress);
  for (;;) {
    if (deps.deadline !== undefined && Date.now() > deps.deadline) return progress;
    await deps.bucket.take(1);
    const page = await deps.lister.listPage(progress.cursor);
    let requested = 0;
    let excluded = 0;
    // Each listed project's repositories of every repository type (the project itself, its wiki, ...): the types say which.
    const candidates = page.repositories.flatMap((path) => repositoriesOf({ path, ...(page.listings?.[path] === undefined ? {} : { listing: page.listings[path] }) }, deps.types));
    for (const name of candidates) {
      let repository: RepositoryPath;
      try {
        repository = parseRepositoryPath(name);
      } catch {
        excluded++;
        continue;
      }
      if (!isIncluded(deps.rule, repository)) {
        excluded++;
        continue;
      }
      const state = await registry.get(repository);
      if (state !== undefined && (state.status !== 'deleted' || deps.skipDeleted === true)) continue;
      await deps.bucket.take(PRIMARY_REQUESTS_PER_SYNC);
      await deps.requester.request([{ repository, state, reason: 'backfill' }]);
      await registry.recordRequested(repository, deps.now().toISOString(), 'backfill');
      requested++;
    }
    const at = deps.now().toISOString();
    const { cursor: _cursor, ...rest } = progress;
    progress = {
      ...rest,
      ...(page.next === undefined ? {} : { cursor: page.next }),
      listed: progress.listed + page.repositories.length,
      requested: progress.requested + requested,
      excluded: progress.excluded + excluded,
      ...(page.total === undefined ? {} : { total: page.total }),
      updatedAt: at,
      ...(page.next === undefined ? { state: 'complete' as const, completedAt: at, total: progress.listed + page.repositories.length } : {}),
    };
    await control.saveBackfill(progress);
    deps.onProgress?.(progress);
    if (progress.state === 'complete') return progress;
  }
}
