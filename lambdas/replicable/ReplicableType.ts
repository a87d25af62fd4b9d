import type { ChangeDraftInput, ChangeSource } from '../shared/events/ChangeEvent.ts';
import type { PackFiles } from '../shared/git/PackFiles.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { TrustPolicy, WebhookRequest } from '../notify/hosts/WebhookSource.ts';

/** A host's webhook event as notify sees it once authenticated: which host, which event, its JSON. */
export interface HostEvent {
  readonly source: ChangeSource;
  /** The host's event name (`Wiki Page Hook`, `gollum`, `wiki`, `Push Hook`…). */
  readonly eventName: string;
  readonly json: unknown;
  readonly request: WebhookRequest;
  readonly trust: TrustPolicy;
}

/** What a blob-type step reports, for logs, metrics and status. */
export interface BlobStepResult {
  readonly items: number;
  readonly fetched: number;
  readonly fetchedBytes: number;
  /** Items found wrong (verification) or refused (fetch) and not stored. */
  readonly failed: readonly string[];
  readonly missingOnPrimary: readonly string[];
  /** Every item id the step looked at: each gets its registry row (the ones not failed or missing are good). */
  readonly ids: readonly string[];
  /** Verification: items found wrong or missing that could not be repaired (the others in `failed` were replaced). */
  readonly unrepaired?: readonly string[];
}

/** A project as the primary's listing (backfill) gives it: its path, and the listing's own JSON for it when there is one. */
export interface ListedProject {
  readonly path: string;
  readonly listing?: Readonly<Record<string, unknown>>;
}

/** The region-side context a blob type works in: the bucket, and the primary's API for this type with the configured credentials. */
export interface BlobContext<Api> {
  readonly store: ObjectStore;
  readonly api: Api;
}

/**
 * A type of data that lives beside a repository as content-addressed objects (LFS objects;
 * later uploads, CI artifacts…). It rides on the repository's sync: the sync hands it each new
 * pack, and the repository's verification asks it to verify its items.
 */
export interface BlobStrategy<Api> {
  /** Builds this type's client of the primary. */
  api(primary: { baseUrl: string; authorization: string | undefined; timeoutMs: number; userAgent: string }): Api;
  /** Which items a new pack introduces (events: a push brings new commits). */
  itemsIn(pack: PackFiles): readonly { id: string }[];
  /** Every item the repository has (what its mirror refers to): verification's list, and so the backfill of items never copied. */
  list(context: BlobContext<Api>, repository: RepositoryPath): Promise<readonly { id: string }[]>;
  /** Copies the items the region lacks into its bucket, verified while streamed. */
  fetch(context: BlobContext<Api>, repository: RepositoryPath, items: readonly { id: string }[]): Promise<BlobStepResult>;
  /** Re-checks each listed item against its content in the bucket, and copies again what is wrong or missing. */
  verify(context: BlobContext<Api>, repository: RepositoryPath, items: readonly { id: string }[]): Promise<BlobStepResult>;
  /** Whether a regional request path is this type's to serve (the endpoint routes it to the type's handler). */
  serves(rawPath: string): boolean;
}

/**
 * One replicable type: one module in lambdas/replicable/types/, listed once in registry.ts.
 *
 * - `repository` types are Git repositories of their own (projects, wikis): their fetch is the
 *   sync (lambdas/sync), their verification verifyRepository (lambdas/verify), their serving the
 *   regional endpoint, all by path; the registry, retries, dead-letter queue, selective sync and
 *   status handle them by path too. Such a type says which events concern it, which paths are
 *   its own, and what backfill lists for a project.
 * - `blob` types are objects beside a repository (LFS): see BlobStrategy. Each item gets a
 *   registry row of its own (ItemRegistry), written by the generic steps (blobSteps).
 */
export type ReplicableType =
  | {
      readonly name: string;
      readonly strategy: 'repository';
      /** Change drafts for a host event the host modules leave unhandled; undefined when it is not this type's. */
      readonly events?: (event: HostEvent) => readonly ChangeDraftInput[] | undefined;
      /** The repository path this type mirrors for a project path (a wiki: `<path>.wiki`). */
      readonly repositoryOf: (projectPath: string) => string;
      /** Whether a mirrored repository path is this type's (a wiki: `*.wiki`). The last registered type that claims a path owns it. */
      readonly owns: (repositoryPath: string) => boolean;
      /** Backfill: the repositories of this type a listed project has (none when the listing says it has none). */
      readonly list: (project: ListedProject) => readonly string[];
    }
  | {
      readonly name: string;
      readonly strategy: 'blob';
      readonly blob: BlobStrategy<unknown>;
    };
