import type { PackFiles } from '../shared/git/PackFiles.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { ItemRegistry } from './ItemRegistry.ts';
import { blobTypes } from './registry.ts';
import type { BlobStepResult, ReplicableType } from './ReplicableType.ts';

/** What the sync runs once a fetched pack is stored, before the refs that name its objects are published. */
export type AfterPackStored = (repository: RepositoryPath, pack: PackFiles) => Promise<void>;

/** The primary as every blob type's client is built from: its URL and the configured read credentials. */
export interface PrimaryAccessConfig {
  readonly baseUrl: string;
  readonly authorization: string | undefined;
  readonly timeoutMs: number;
  readonly userAgent: string;
}

/** A step's result as verification reports it: the counts and what went wrong, not every item id. */
export type BlobStepSummary = Omit<BlobStepResult, 'ids'>;

/** Each registered blob type with its client of the primary, built once. */
export interface BlobSteps {
  /** The sync's step: the items each new pack introduces, fetched (a failure fails the sync, which is retried). */
  readonly afterPackStored: AfterPackStored;
  /** Verification's step: every type's items of the repository re-checked against their content, and repaired. */
  verify(repository: RepositoryPath): Promise<Record<string, BlobStepSummary>>;
}

export interface BlobStepOptions {
  /** Each step's result, for logs and metrics. */
  readonly onResult?: (type: string, step: 'fetch' | 'verify', repository: RepositoryPath, result: BlobStepResult) => void;
  /** Where each item's row is kept (state, verification, failures); without it no rows are written. */
  readonly items?: ItemRegistry;
  readonly now?: () => Date;
  /** @default REPLICABLE_TYPES */
  readonly types?: readonly ReplicableType[];
}

/**
 * The blob types' part of sync and verification, with no per-type code: the registry of types
 * says which types there are, each type's module says how, and every item's outcome becomes its
 * registry row. A fetch that fails fails the sync, so the repository's message is retried (with
 * backoff, then the dead-letter queue) like any sync failure; its items' rows say why meanwhile.
 */
export function blobSteps(store: ObjectStore, primary: PrimaryAccessConfig, options: BlobStepOptions = {}): BlobSteps {
  const active = blobTypes(options.types).map(({ name, blob }) => ({ name, blob, context: { store, api: blob.api(primary) } }));
  const now = (): string => (options.now ?? (() => new Date()))().toISOString();
  const report = async (name: string, step: 'fetch' | 'verify', repository: RepositoryPath, result: BlobStepResult): Promise<void> => {
    options.onResult?.(name, step, repository, result);
    await options.items?.recordStep(name, repository, step, result, now());
  };
  return {
    async afterPackStored(repository, pack) {
      for (const { name, blob, context } of active) {
        const items = blob.itemsIn(pack);
        if (items.length === 0) continue;
        let result: BlobStepResult;
        try {
          result = await blob.fetch(context, repository, items);
        } catch (error) {
          // The sync's failure is what counts (retries, dead-letter queue): rows that cannot be written must not hide it.
          await options.items?.recordStepFailed(name, repository, items.map(({ id }) => id), error, now()).catch(() => undefined);
          throw error;
        }
        await report(name, 'fetch', repository, result);
      }
    },
    async verify(repository) {
      const results: Record<string, BlobStepSummary> = {};
      for (const { name, blob, context } of active) {
        // The type's own list is the backfill: an item listed and never copied is missing, and copied now.
        const result = await blob.verify(context, repository, await blob.list(context, repository));
        await report(name, 'verify', repository, result);
        const { ids: _ids, ...summary } = result;
        if (result.items > 0) results[name] = summary;
      }
      return results;
    },
  };
}
