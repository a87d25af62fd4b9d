import { BatchWriteCommand, paginateQuery, paginateScan, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GeoError } from '../shared/errors/index.ts';
import { GIT_TYPE } from '../shared/metricNames.ts';
import { repositoryStateOf } from '../shared/registry/Registry.ts';
import type { RecordedError, RepositoryState } from '../shared/registry/RepositoryState.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';
import type { BlobStepResult } from './ReplicableType.ts';

/** What a blob type's item is in a region: copied, failed (with why), verified against its content, or found wrong. */
export type ItemStatus = 'synced' | 'failed' | 'verified' | 'verification_failed';

/** One item of a blob type (an LFS object) in one region's registry. Times are ISO-8601 strings. */
export interface ItemState {
  readonly repository: RepositoryPath;
  /** The replicable type's name (`lfs-object`). */
  readonly type: string;
  readonly id: string;
  readonly status: ItemStatus;
  readonly updatedAt: string;
  /** Consecutive failed attempts since the last success. */
  readonly attempts: number;
  readonly lastError?: RecordedError;
  readonly lastSyncedAt?: string;
  readonly lastVerifiedAt?: string;
  readonly verifiedAt?: string;
  /** The last time verification found it wrong or missing and replaced it. */
  readonly repairedAt?: string;
}

/** The sort key of repositories' own rows (Registry): the type of Git repositories in the table. */
export const REPOSITORY_SORT_KEY = GIT_TYPE;
const SEPARATOR = '#';
const sortKey = (type: string, id: string): string => `${type}${SEPARATOR}${id}`;

/**
 * Item rows live in the registry table beside their repository's row (`pk` the repository, `sk`
 * `<type>#<id>`). Their state is kept in `itemStatus`, not `status`, so they stay out of the
 * status index: the schedules (verification, watchdog, backup) walk repositories only, and a
 * repository's verification verifies its items.
 */
function toItem(row: Record<string, unknown>): ItemState | undefined {
  if (typeof row.sk !== 'string' || typeof row.itemStatus !== 'string' || typeof row.type !== 'string' || typeof row.item !== 'string') return undefined;
  const { pk, sk: _sk, itemStatus, item, ...rest } = row;
  return { ...(rest as object), repository: pk as RepositoryPath, id: item, status: itemStatus as ItemStatus, attempts: Number(row.attempts ?? 0) } as ItemState;
}

function recorded(error: unknown, at: string): RecordedError {
  if (error instanceof GeoError) return { code: error.code, message: error.message.slice(0, 500), retryable: error.retryable, at };
  return { code: 'ERR_INTERNAL', message: (error instanceof Error ? error.message : String(error)).slice(0, 500), retryable: true, at };
}

const MISSING_ON_PRIMARY = (at: string): RecordedError => ({ code: 'ERR_MISSING_ON_PRIMARY', message: 'the primary does not have this object (a pointer pushed without it)', retryable: false, at });
const STILL_WRONG = (at: string): RecordedError => ({ code: 'ERR_ITEM_CORRUPT', message: 'found wrong or missing by verification, and not yet repaired', retryable: true, at });

/**
 * A region's registry rows for the items of every blob type: their state, verification and
 * failures, written by the generic steps (blobSteps) for whatever type ran, read by status.
 */
export class ItemRegistry {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  /** The rows of one type's items of one repository. */
  async list(repository: RepositoryPath, type: string): Promise<ItemState[]> {
    const items: ItemState[] = [];
    const pages = paginateQuery(
      { client: this.db },
      { TableName: this.tableName, KeyConditionExpression: 'pk = :pk AND begins_with(sk, :prefix)', ExpressionAttributeValues: { ':pk': repository, ':prefix': sortKey(type, '') }, ConsistentRead: true },
    );
    for await (const page of pages) for (const row of page.Items ?? []) {
      const item = toItem(row);
      if (item !== undefined) items.push(item);
    }
    return items;
  }

  /**
   * Records what a step found for each item it looked at. A verification looks at every item
   * the mirror refers to, so rows it no longer finds (items no ref reaches) are removed.
   */
  async recordStep(type: string, repository: RepositoryPath, step: 'fetch' | 'verify', result: BlobStepResult, at: string): Promise<void> {
    const previous = new Map((await this.list(repository, type)).map((item) => [item.id, item]));
    const missing = new Set(result.missingOnPrimary);
    const unrepaired = new Set(result.unrepaired ?? (step === 'fetch' ? result.failed : []));
    const repaired = new Set(step === 'verify' ? result.failed : []);
    const rows = result.ids.map((id) => {
      const before = previous.get(id);
      const failure = missing.has(id) ? MISSING_ON_PRIMARY(at) : unrepaired.has(id) ? STILL_WRONG(at) : undefined;
      const status: ItemStatus = failure === undefined ? (step === 'verify' ? 'verified' : 'synced') : step === 'verify' && !missing.has(id) ? 'verification_failed' : 'failed';
      return this.row(type, repository, id, {
        ...before,
        status,
        updatedAt: at,
        attempts: failure === undefined ? 0 : (before?.attempts ?? 0) + 1,
        lastError: failure,
        ...(step === 'fetch' && failure === undefined ? { lastSyncedAt: at } : {}),
        ...(step === 'verify' ? { lastVerifiedAt: at, ...(failure === undefined ? { verifiedAt: at } : {}) } : {}),
        ...(repaired.has(id) && failure === undefined ? { repairedAt: at } : {}),
      });
    });
    const seen = new Set(result.ids);
    const gone = step === 'verify' ? [...previous.keys()].filter((id) => !seen.has(id)) : [];
    await this.write(rows, gone.map((id) => ({ pk: repository, sk: sortKey(type, id) })));
  }

  /** Records a step that failed as a whole (the primary unreachable, say): each item it was to copy failed, with why. */
  async recordStepFailed(type: string, repository: RepositoryPath, ids: readonly string[], error: unknown, at: string): Promise<void> {
    const previous = new Map((await this.list(repository, type)).map((item) => [item.id, item]));
    const lastError = recorded(error, at);
    await this.write(
      ids.map((id) => {
        const before = previous.get(id);
        // An item this region already holds stays as it was: only the ones it lacks failed.
        if (before !== undefined && before.status !== 'failed') return this.row(type, repository, id, before);
        return this.row(type, repository, id, { ...before, status: 'failed', updatedAt: at, attempts: (before?.attempts ?? 0) + 1, lastError });
      }),
      [],
    );
  }

  /** Removes every item row of a repository (its mirror is gone, or the selective-sync rule excludes it). */
  async removeRepository(repository: RepositoryPath): Promise<void> {
    const keys: { pk: string; sk: string }[] = [];
    const pages = paginateQuery({ client: this.db }, { TableName: this.tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': repository }, ProjectionExpression: 'pk, sk, itemStatus' });
    for await (const page of pages) for (const row of page.Items ?? []) if (row.itemStatus !== undefined) keys.push({ pk: String(row.pk), sk: String(row.sk) });
    await this.write([], keys);
  }

  private row(type: string, repository: RepositoryPath, id: string, state: Omit<ItemState, 'repository' | 'type' | 'id'> & Partial<ItemState>): Record<string, unknown> {
    const { repository: _repository, type: _type, id: _id, status, ...rest } = state;
    const defined = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
    return { ...defined, pk: repository, sk: sortKey(type, id), type, item: id, itemStatus: status };
  }

  private async write(puts: readonly Record<string, unknown>[], deletes: readonly { pk: string; sk: string }[]): Promise<void> {
    const requests = [...puts.map((Item) => ({ PutRequest: { Item } })), ...deletes.map((Key) => ({ DeleteRequest: { Key } }))];
    for (let start = 0; start < requests.length; start += 25) {
      let pending: typeof requests | undefined = requests.slice(start, start + 25);
      for (let attempt = 0; pending !== undefined && pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
        const { UnprocessedItems }: { UnprocessedItems?: Record<string, unknown[]> } = await this.db.send(new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }));
        pending = UnprocessedItems?.[this.tableName] as typeof requests | undefined;
        if (attempt > 8 && pending !== undefined && pending.length > 0) throw new Error(`the registry left ${pending.length} item rows unwritten`);
      }
    }
  }
}

/** Everything a region's registry holds about what it replicates: repositories' rows and items' rows, by one Scan (operators' reads only). */
export async function scanReplicables(db: DynamoDBDocumentClient, tableName: string): Promise<{ repositories: RepositoryState[]; items: ItemState[] }> {
  const repositories: RepositoryState[] = [];
  const items: ItemState[] = [];
  for await (const page of paginateScan({ client: db }, { TableName: tableName })) {
    for (const row of page.Items ?? []) {
      if (row.sk === REPOSITORY_SORT_KEY) {
        repositories.push(repositoryStateOf(row));
        continue;
      }
      const item = toItem(row);
      if (item !== undefined) items.push(item);
    }
  }
  return { repositories, items };
}
