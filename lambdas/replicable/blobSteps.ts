import type { PackFiles } from '../shared/git/PackFiles.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
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

/** Each registered blob type with its client of the primary, built once. */
export interface BlobSteps {
  /** The sync's step: the items each new pack introduces, fetched (a failure fails the sync, which is retried). */
  readonly afterPackStored: AfterPackStored;
  /** Verification's step: every type's items of the repository re-checked against their content, and repaired. */
  verify(repository: RepositoryPath): Promise<Record<string, BlobStepResult>>;
}

/**
 * The blob types' part of sync and verification, with no per-type code: the registry says
 * which types there are, each type's module says how. Results go to `onResult` for logs and metrics.
 */
export function blobSteps(
  store: ObjectStore,
  primary: PrimaryAccessConfig,
  onResult: (type: string, step: 'fetch' | 'verify', repository: RepositoryPath, result: BlobStepResult) => void = () => undefined,
  types?: readonly ReplicableType[],
): BlobSteps {
  const active = blobTypes(types).map(({ name, blob }) => ({ name, blob, context: { store, api: blob.api(primary) } }));
  return {
    async afterPackStored(repository, pack) {
      for (const { name, blob, context } of active) {
        const items = blob.itemsIn(pack);
        if (items.length === 0) continue;
        onResult(name, 'fetch', repository, await blob.fetch(context, repository, items));
      }
    },
    async verify(repository) {
      const results: Record<string, BlobStepResult> = {};
      for (const { name, blob, context } of active) {
        const result = await blob.verify(context, repository);
        onResult(name, 'verify', repository, result);
        if (result.items > 0) results[name] = result;
      }
      return results;
    },
  };
}
