import type { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { MirrorRepository } from '../../lambdas/shared/git/MirrorRepository.ts';
import type { Registry } from '../../lambdas/shared/registry/Registry.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';

/** One repository's recovery point in a region, against the primary's last known state. */
export interface RpoEntry {
  readonly repository: string;
  /** The region held every ref the event log knows, at the same commit. */
  readonly current: boolean;
  /** The region has no copy of the repository at all. */
  readonly noMirror: boolean;
  /** Refs the primary had that the region lacks. */
  readonly missing: readonly { ref: string; primary: string }[];
  /** Refs the region holds at another commit than the primary's. */
  readonly different: readonly { ref: string; region: string; primary: string }[];
  /** Refs the region holds that the primary deleted since. */
  readonly extra: readonly { ref: string; region: string }[];
}

export interface RpoReport {
  readonly region: string;
  readonly at: string;
  readonly repositories: readonly RpoEntry[];
  /** Repositories whose copy in the region is not the primary's last known state. */
  readonly atRisk: number;
  /** Refs lost or at another commit, summed over repositories. */
  readonly refsAtRisk: number;
}

/**
 * For each repository the event log knows, whether the region held the primary's last known state:
 * the event log's head item folds every published event's ref changes into `knownRefs`, which is
 * compared with the refs the region's mirror serves (its own `info/refs`, not the registry).
 * Repositories the region's registry records as deleted are left out.
 */
export async function rpoReport(options: {
  region: string;
  eventLog: EventLog;
  store: ObjectStore;
  registry: Registry;
  refNamespaces: readonly string[];
  repositories?: readonly string[];
  now?: () => Date;
}): Promise<RpoReport> {
  const inNamespace = (ref: string): boolean => options.refNamespaces.some((namespace) => ref.startsWith(namespace));
  const only = options.repositories === undefined ? undefined : new Set(options.repositories);
  const entries: RpoEntry[] = [];
  for await (const head of options.eventLog.heads()) {
    if (only !== undefined && !only.has(head.repository)) continue;
    const repository = parseRepositoryPath(head.repository);
    const state = await options.registry.get(repository);
    const known = Object.entries(head.knownRefs).filter(([ref]) => inNamespace(ref));
    if (state?.status === 'deleted' && known.length === 0) continue;
    const mirror = await new MirrorRepository(options.store, repository).readState();
    const held = mirror?.snapshot.refs ?? new Map<string, string>();
    const missing: { ref: string; primary: string }[] = [];
    const different: { ref: string; region: string; primary: string }[] = [];
    for (const [ref, primary] of known) {
      const region = held.get(ref);
      if (region === undefined) missing.push({ ref, primary });
      else if (region !== primary) different.push({ ref, region, primary });
    }
    const knownNames = new Set(known.map(([ref]) => ref));
    const extra = [...held].filter(([ref]) => !knownNames.has(ref) && known.length > 0).map(([ref, region]) => ({ ref, region }));
    entries.push({ repository, current: missing.length === 0 && different.length === 0, noMirror: mirror === undefined, missing, different, extra });
  }
  entries.sort((a, b) => a.repository.localeCompare(b.repository));
  const atRisk = entries.filter((entry) => !entry.current);
  return {
    region: options.region,
    at: (options.now?.() ?? new Date()).toISOString(),
    repositories: entries,
    atRisk: atRisk.length,
    refsAtRisk: atRisk.reduce((sum, entry) => sum + entry.missing.length + entry.different.length, 0),
  };
}
