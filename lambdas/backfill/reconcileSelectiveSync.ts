import { randomUUID } from 'node:crypto';
import { LeaseHeldError } from '../shared/errors/index.ts';
import { MirrorRepository } from '../shared/git/MirrorRepository.ts';
import type { ItemRegistry } from '../replicable/ItemRegistry.ts';
import type { Registry } from '../shared/registry/Registry.ts';
import { REPLICATION_STATUSES } from '../shared/registry/RepositoryState.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import { isIncluded, type SelectiveSyncRule } from '../shared/selectiveSync/SelectiveSyncRule.ts';

export interface ReconcileResult {
  readonly removed: readonly string[];
  /** Excluded repositories a sync held: the next run removes them. */
  readonly busy: readonly string[];
}

/**
 * Makes the registry and the mirrors agree with the selective-sync rule: every repository the
 * rule now excludes loses its mirror and its registry item (under its lease, so no sync is
 * writing it), with the rows of its items of every blob type. Newly included repositories are the backfill's to add.
 */
export async function reconcileSelectiveSync(deps: { registry: Registry; store: ObjectStore; rule: SelectiveSyncRule; now: () => Date; items?: ItemRegistry }): Promise<ReconcileResult> {
  const removed: string[] = [];
  const busy: string[] = [];
  // Every status, deleted included (their items go too): the status index, never a Scan.
  for await (const state of deps.registry.inStatuses(REPLICATION_STATUSES)) {
    if (isIncluded(deps.rule, state.repository)) continue;
    const owner = `reconcile-${randomUUID()}`;
    const now = deps.now();
    try {
      await deps.registry.acquireLease(state.repository, { owner, until: new Date(now.getTime() + 300_000).toISOString() }, now.toISOString());
    } catch (error) {
      if (error instanceof LeaseHeldError) {
        busy.push(state.repository);
        continue;
      }
      throw error;
    }
    await new MirrorRepository(deps.store, state.repository).remove();
    await deps.items?.removeRepository(state.repository);
    await deps.registry.remove(state.repository);
    removed.push(state.repository);
  }
  return { removed, busy };
}
