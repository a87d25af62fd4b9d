import type { RepositoryState } from '../shared/registry/RepositoryState.ts';
import type { ItemState } from './ItemRegistry.ts';
import { REPLICABLE_TYPES, typeOfRepository } from './registry.ts';
import type { ReplicableType } from './ReplicableType.ts';

/** One replicable type's items in one region, as status shows them. */
export interface TypeCount {
  readonly items: number;
  /** Up to date: synced or verified. */
  readonly synced: number;
  readonly verified: number;
  /** Failed to copy, or found wrong by verification and not repaired. */
  readonly failed: number;
  readonly byStatus: Readonly<Record<string, number>>;
  /** The commonest failure codes, with their counts. */
  readonly failures: readonly { readonly code: string; readonly count: number }[];
}

const UP_TO_DATE = new Set(['synced', 'verified']);
const FAILED = new Set(['failed', 'verification_failed']);

/**
 * Counts what a region holds per replicable type, from the registry's rows alone: repositories by
 * the type that owns their path (repository, wiki, ...), items by their row's type (lfs-object,
 * ...). Every registered type is listed, with zeros when the region holds none; items of a
 * repository the region no longer holds are not counted. No per-type code: the registry of types
 * says which there are.
 */
export function countByType(repositories: readonly RepositoryState[], items: readonly ItemState[], types: readonly ReplicableType[] = REPLICABLE_TYPES): Record<string, TypeCount> {
  const tallies = new Map<string, { statuses: string[]; codes: string[] }>(types.map((type) => [type.name, { statuses: [], codes: [] }]));
  const tally = (type: string, status: string, code: string | undefined): void => {
    const entry = tallies.get(type) ?? { statuses: [], codes: [] };
    entry.statuses.push(status);
    if (code !== undefined) entry.codes.push(code);
    tallies.set(type, entry);
  };
  const live = new Set<string>();
  for (const state of repositories) {
    if (state.status === 'deleted') continue;
    live.add(state.repository);
    const code = state.status === 'failed' ? state.lastError?.code : state.status === 'verification_failed' ? state.verificationFailure?.codes[0] : undefined;
    tally(typeOfRepository(state.repository, types), state.status, code);
  }
  for (const item of items) if (live.has(item.repository)) tally(item.type, item.status, FAILED.has(item.status) ? item.lastError?.code : undefined);
  return Object.fromEntries(
    [...tallies].map(([name, { statuses, codes }]) => {
      const byStatus: Record<string, number> = {};
      for (const status of statuses) byStatus[status] = (byStatus[status] ?? 0) + 1;
      const byCode = new Map<string, number>();
      for (const code of codes) byCode.set(code, (byCode.get(code) ?? 0) + 1);
      const count: TypeCount = {
        items: statuses.length,
        synced: statuses.filter((status) => UP_TO_DATE.has(status)).length,
        verified: byStatus.verified ?? 0,
        failed: statuses.filter((status) => FAILED.has(status)).length,
        byStatus,
        failures: [...byCode].map(([code, n]) => ({ code, count: n })).sort((a, b) => b.count - a.count),
      };
      return [name, count];
    }),
  );
}
