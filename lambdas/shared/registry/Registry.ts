import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  paginateScan,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { updateExpression } from '../aws/updateExpression.ts';
import { GeoError } from '../errors/index.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import type { RecordedError, RepositoryState } from './RepositoryState.ts';

/** Refs are kept in the registry item up to this many; past it, `info/refs` in the bucket is the record. */
export const MAX_REFS_IN_REGISTRY = 200;

export interface SyncedRecord {
  readonly sequence: number;
  readonly receivedAt: string;
  readonly discoveredAt: string;
  readonly syncedAt: string;
  readonly head: string | undefined;
  readonly refs: ReadonlyMap<string, string>;
  readonly refsChecksum: string;
  readonly packCount: number;
  readonly fetchedBytes: number;
  /** Whether the primary serves the repository to anonymous readers, as checked at `discoveredAt`. */
  readonly anonymousRead?: boolean;
}

function toRecordedError(error: unknown, at: string): RecordedError {
  if (error instanceof GeoError) return { code: error.code, message: error.message, retryable: error.retryable, at };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'ERR_INTERNAL', message: message.slice(0, 1000), retryable: true, at };
}

/**
 * A region's record of every replicable it holds: status, the refs it reached, lag,
 * attempts and the last error. One DynamoDB item per (repository, data type).
 */
export class Registry {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly replicable = 'git',
  ) {}

  private key(repository: RepositoryPath): { pk: string; sk: string } {
    return { pk: repository, sk: this.replicable };
  }

  async get(repository: RepositoryPath): Promise<RepositoryState | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: this.key(repository), ConsistentRead: true }),
    );
    return Item === undefined ? undefined : this.fromItem(Item);
  }

  /** Marks a sync as started and counts the attempt; answers the attempt number. */
  async recordStarted(
    repository: RepositoryPath,
    event: { sequence: number; receivedAt: string },
    startedAt: string,
  ): Promise<number> {
    const update = updateExpression({
      set: {
        repository,
        replicable: this.replicable,
        status: 'started',
        syncStartedAt: startedAt,
        lastEventSequence: event.sequence,
        lastEventReceivedAt: event.receivedAt,
        updatedAt: startedAt,
      },
      add: { attempts: 1 },
    });
    const { Attributes } = await this.db.send(
      new UpdateCommand({ TableName: this.tableName, Key: this.key(repository), ...update, ReturnValues: 'ALL_NEW' }),
    );
    return Number(Attributes?.attempts ?? 1);
  }

  async recordSynced(repository: RepositoryPath, record: SyncedRecord): Promise<void> {
    const lagMs = Math.max(0, Date.parse(record.syncedAt) - Date.parse(record.receivedAt));
    const keepRefs = record.refs.size <= MAX_REFS_IN_REGISTRY;
    const update = updateExpression({
      set: {
        repository,
        replicable: this.replicable,
        status: 'synced',
        syncedSequence: record.sequence,
        lastSyncedAt: record.syncedAt,
        discoveredAt: record.discoveredAt,
        lagMs,
        head: record.head,
        refCount: record.refs.size,
        refsChecksum: record.refsChecksum,
        refs: keepRefs ? Object.fromEntries(record.refs) : undefined,
        packCount: record.packCount,
        lastFetchBytes: record.fetchedBytes,
        anonymousRead: record.anonymousRead,
        accessCheckedAt: record.anonymousRead === undefined ? undefined : record.discoveredAt,
        attempts: 0,
        updatedAt: record.syncedAt,
      },
      remove: ['lastError', 'nextAttemptAt', ...(keepRefs ? [] : ['refs'])],
    });
    await this.db.send(new UpdateCommand({ TableName: this.tableName, Key: this.key(repository), ...update }));
  }

  /**
   * Records that an event needed no fetch because the mirror already covers it.
   * Never moves `syncedSequence` backwards.
   */
  async recordCovered(repository: RepositoryPath, sequence: number, at: string): Promise<void> {
    const update = updateExpression({ set: { syncedSequence: sequence, updatedAt: at } });
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(repository),
          ...update,
          ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#n0) OR #n0 < :v1)',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async recordFailed(
    repository: RepositoryPath,
    failure: { error: unknown; at: string; nextAttemptAt: string | undefined },
  ): Promise<RecordedError> {
    const lastError = toRecordedError(failure.error, failure.at);
    const update = updateExpression({
      set: {
        repository,
        replicable: this.replicable,
        status: 'failed',
        lastError,
        nextAttemptAt: failure.nextAttemptAt,
        updatedAt: failure.at,
      },
      remove: failure.nextAttemptAt === undefined ? ['nextAttemptAt'] : [],
    });
    await this.db.send(new UpdateCommand({ TableName: this.tableName, Key: this.key(repository), ...update }));
    return lastError;
  }

  /**
   * Marks that a push through this region's endpoint began at `at`. Only for repositories the
   * registry knows; the endpoint's grant lets it write this one attribute and nothing else.
   */
  async markWritePending(repository: RepositoryPath, at: string): Promise<void> {
    try {
      await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(repository),
          UpdateExpression: 'SET #w = :at',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#w': 'writePendingAt' },
          ExpressionAttributeValues: { ':at': at },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async remove(repository: RepositoryPath): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: this.key(repository) }));
  }

  async *list(): AsyncIterable<RepositoryState> {
    for await (const page of paginateScan({ client: this.db }, { TableName: this.tableName })) {
      for (const item of page.Items ?? []) {
        if (item.sk === this.replicable) yield this.fromItem(item);
      }
    }
  }

  private fromItem(item: Record<string, unknown>): RepositoryState {
    const { pk: _pk, sk: _sk, ...rest } = item;
    return { attempts: 0, ...rest } as unknown as RepositoryState;
  }
}
