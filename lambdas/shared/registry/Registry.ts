import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  GetCommand,
  paginateQuery,
  paginateScan,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { updateExpression } from '../aws/updateExpression.ts';
import { GeoError, LeaseHeldError } from '../errors/index.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import type { RecordedError, ReplicationStatus, RepositoryState } from './RepositoryState.ts';
import { STATUS_INDEX } from './statusIndex.ts';
import { updateIf } from '../aws/updateIf.ts';

/** One entry of the status index: enough to pick the repositories a schedule works on. */
export interface StatusEntry {
  readonly repository: RepositoryPath;
  readonly status: ReplicationStatus;
  readonly updatedAt: string;
  readonly lastVerifiedAt?: string;
}

/** Where a walk of the status index stands: the status it is in and the last key it read there. */
export interface StatusCursor {
  readonly status: ReplicationStatus;
  readonly lastKey?: Record<string, unknown>;
}

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
  /** Refs the primary advertised under names git refuses (escaped), and why: not mirrored. */
  readonly refusedRefs?: readonly { readonly name: string; readonly reason: string }[];
}

export interface VerificationRecord {
  readonly status: 'verified' | 'verification_failed';
  readonly at: string;
  /** The refs checksum the mirror was verified at. */
  readonly checksum?: string;
  /** Repairs made since the last successful verification. */
  readonly repairs: number;
  readonly failure?: { readonly codes: readonly string[]; readonly message: string; readonly at: string };
  /** True when the repairs are used up: flagged for an operator, not repaired again. */
  readonly gaveUp?: boolean;
  readonly nextVerifyAt?: string;
}

/** Who holds a repository while a sync works on it, and until when. */
export interface Lease {
  readonly owner: string;
  readonly until: string;
}

export interface DeletedRecord {
  readonly at: string;
  /** When the deletion or rename was received: events received before it are stale for this path. */
  readonly deletedAt: string;
  readonly deletedSequence?: number;
  readonly movedTo?: string;
  readonly tombstone?: string;
}

const LEASE_NAMES = { '#leaseOwner': 'leaseOwner', '#leaseUntil': 'leaseUntil' };
/** Free, expired, or already ours. */
const LEASE_FREE = 'attribute_not_exists(#leaseOwner) OR #leaseUntil < :now OR #leaseOwner = :owner';
/** Still ours (or released): a final write after someone else took over would overwrite their state. */
const LEASE_OURS = 'attribute_not_exists(#leaseOwner) OR #leaseOwner = :owner';

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
    return Item === undefined ? undefined : repositoryStateOf(Item);
  }

  /**
   * Takes the repository's lease, marks a sync as started and counts the attempt; answers the
   * attempt number. Throws LeaseHeldError while another sync holds an unexpired lease, so two
   * syncs never write one mirror at once, whatever the queue does.
   */
  async recordStarted(
    repository: RepositoryPath,
    event: { sequence: number; receivedAt: string },
    startedAt: string,
    lease: Lease,
  ): Promise<number> {
    const update = updateExpression({
      set: {
        repository,
        replicable: this.replicable,
        status: 'started',
        syncStartedAt: startedAt,
        lastEventSequence: event.sequence,
        lastEventReceivedAt: event.receivedAt,
        leaseOwner: lease.owner,
        leaseUntil: lease.until,
        updatedAt: startedAt,
      },
      add: { attempts: 1 },
    });
    const { Attributes } = await this.leased(repository, update, LEASE_FREE, lease.owner, startedAt, 'ALL_NEW');
    return Number(Attributes?.attempts ?? 1);
  }

  /** Takes the lease of a repository this sync touches without syncing it (the old path of a rename). */
  async acquireLease(repository: RepositoryPath, lease: Lease, now: string): Promise<void> {
    const base = updateExpression({ set: { repository, replicable: this.replicable, leaseOwner: lease.owner, leaseUntil: lease.until, updatedAt: now } });
    // A repository never seen before gets a status, so every item in the registry has one.
    const update = {
      ...base,
      UpdateExpression: `${base.UpdateExpression}, #status = if_not_exists(#status, :pending)`,
      ExpressionAttributeNames: { ...base.ExpressionAttributeNames, '#status': 'status' },
      ExpressionAttributeValues: { ...base.ExpressionAttributeValues, ':pending': 'pending' },
    };
    await this.leased(repository, update, LEASE_FREE, lease.owner, now);
  }

  /** Gives a lease back, if it is still ours. */
  async releaseLease(repository: RepositoryPath, owner: string): Promise<void> {
    try {
      await this.leased(repository, updateExpression({ remove: ['leaseOwner', 'leaseUntil'] }), '#leaseOwner = :owner', owner, new Date().toISOString());
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
    }
  }

  /**
   * Records that the repository was deleted, or renamed away (`movedTo`), releasing the lease.
   * Events received before `deletedAt` can no longer bring it back.
   */
  async recordDeleted(repository: RepositoryPath, record: DeletedRecord, owner: string): Promise<void> {
    const update = updateExpression({
      set: {
        repository,
        replicable: this.replicable,
        status: 'deleted',
        deletedAt: record.deletedAt,
        deletedSequence: record.deletedSequence,
        movedTo: record.movedTo,
        tombstone: record.tombstone,
        syncedSequence: record.deletedSequence,
        attempts: 0,
        updatedAt: record.at,
      },
      remove: [
        'lastError',
        'nextAttemptAt',
        'refs',
        'refCount',
        'refsChecksum',
        'head',
        'packCount',
        'discoveredAt',
        'leaseOwner',
        'leaseUntil',
        ...(record.movedTo === undefined ? ['movedTo'] : []),
        ...(record.tombstone === undefined ? ['tombstone'] : []),
        ...(record.deletedSequence === undefined ? ['deletedSequence'] : []),
      ],
    });
    await this.leased(repository, update, LEASE_OURS, owner, record.at);
  }

  /** An update made only under the lease condition; a failed condition is another sync's lease. */
  private async leased(
    repository: RepositoryPath,
    update: ReturnType<typeof updateExpression>,
    condition: string,
    owner: string,
    now: string,
    returnValues?: 'ALL_NEW',
  ): Promise<{ Attributes?: Record<string, unknown> }> {
    try {
      return await this.db.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: this.key(repository),
          ...update,
          ConditionExpression: condition,
          // DynamoDB refuses names the expressions do not use.
          ExpressionAttributeNames: { ...update.ExpressionAttributeNames, ...Object.fromEntries(Object.entries(LEASE_NAMES).filter(([alias]) => condition.includes(alias))) },
          ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':owner': owner, ...(condition.includes(':now') ? { ':now': now } : {}) },
          ...(returnValues ? { ReturnValues: returnValues } : {}),
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const holder = (error.Item ?? {}) as { leaseOwner?: { S?: string }; leaseUntil?: { S?: string } };
      const until = holder.leaseUntil?.S;
      const retryInSeconds = until === undefined ? 1 : Math.max(1, Math.ceil((Date.parse(until) - Date.parse(now)) / 1000));
      throw new LeaseHeldError(`another sync holds ${repository} until ${until ?? 'it finishes'}`, retryInSeconds, { repository, leaseUntil: until });
    }
  }

  /** Records a successful sync and releases the lease. */
  async recordSynced(repository: RepositoryPath, record: SyncedRecord, owner: string): Promise<void> {
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
        // Refs the primary has under names git refuses: not mirrored; shown here (the first 20) until a sync finds none.
        refusedRefs: (record.refusedRefs?.length ?? 0) > 0 ? record.refusedRefs!.slice(0, 20) : undefined,
        anonymousRead: record.anonymousRead,
        accessCheckedAt: record.anonymousRead === undefined ? undefined : record.discoveredAt,
        attempts: 0,
        updatedAt: record.syncedAt,
      },
      remove: [
        'lastError',
        'nextAttemptAt',
        'leaseOwner',
        'leaseUntil',
        'deletedAt',
        'deletedSequence',
        'movedTo',
        'tombstone',
        ...(keepRefs ? [] : ['refs']),
        ...((record.refusedRefs?.length ?? 0) > 0 ? [] : ['refusedRefs']),
      ],
    });
    await this.leased(repository, update, LEASE_OURS, owner, record.syncedAt);
  }

  /**
   * Records that an event needed no fetch because the mirror already covers it.
   * Never moves `syncedSequence` backwards.
   */
  async recordCovered(repository: RepositoryPath, sequence: number, at: string): Promise<void> {
    const update = updateExpression({ set: { syncedSequence: sequence, updatedAt: at } });
    await updateIf(this.db, {
      TableName: this.tableName,
      Key: this.key(repository),
      ...update,
      ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(#n0) OR #n0 < :v1)',
    });
  }

  /** Records a failed attempt and releases the lease. */
  async recordFailed(
    repository: RepositoryPath,
    failure: { error: unknown; at: string; nextAttemptAt: string | undefined },
    owner: string,
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
      remove: ['leaseOwner', 'leaseUntil', ...(failure.nextAttemptAt === undefined ? ['nextAttemptAt'] : [])],
    });
    await this.leased(repository, update, LEASE_OURS, owner, failure.at);
    return lastError;
  }

  /**
   * Records a verification's outcome and releases the lease the verifier held. `verified` resets
   * the repair count; `verification_failed` keeps it (the verifier decides whether to repair again).
   * Never touches a deleted repository's item.
   */
  async recordVerification(repository: RepositoryPath, record: VerificationRecord, owner: string): Promise<void> {
    const verified = record.status === 'verified';
    const update = updateExpression({
      set: {
        status: record.status,
        lastVerifiedAt: record.at,
        verifiedChecksum: verified ? record.checksum : undefined,
        verifiedAt: verified ? record.at : undefined,
        verificationRepairs: record.repairs,
        verificationFailure: verified ? undefined : record.failure,
        verificationGaveUp: verified ? undefined : record.gaveUp,
        nextVerifyAt: record.nextVerifyAt,
        updatedAt: record.at,
      },
      remove: [
        'leaseOwner',
        'leaseUntil',
        ...(verified ? ['verificationFailure', 'verificationGaveUp'] : []),
        ...(record.nextVerifyAt === undefined ? ['nextVerifyAt'] : []),
      ],
    });
    await this.leased(repository, update, LEASE_OURS, owner, record.at);
  }

  /**
   * Marks that a push through this region's endpoint began at `at`. Only for repositories the
   * registry knows; the endpoint's grant lets it write this one attribute and nothing else.
   */
  async markWritePending(repository: RepositoryPath, at: string): Promise<void> {
    await updateIf(this.db, {
      TableName: this.tableName,
      Key: this.key(repository),
      UpdateExpression: 'SET #w = :at',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#w': 'writePendingAt' },
      ExpressionAttributeValues: { ':at': at },
    });
  }

  /**
   * Notes that git-geo asked for a sync of a repository (backfill): a repository never seen
   * before gets an item in `pending`, so progress and status count it; a known one keeps its status.
   */
  async recordRequested(repository: RepositoryPath, at: string, reason: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: this.key(repository),
        UpdateExpression:
          'SET #repository = :repository, #replicable = :replicable, #status = if_not_exists(#status, :pending), #attempts = if_not_exists(#attempts, :zero), #at = :at, #reason = :reason, #updatedAt = if_not_exists(#updatedAt, :at)',
        ExpressionAttributeNames: {
          '#repository': 'repository',
          '#replicable': 'replicable',
          '#status': 'status',
          '#attempts': 'attempts',
          '#at': 'syncRequestedAt',
          '#reason': 'syncRequestReason',
          '#updatedAt': 'updatedAt',
        },
        ExpressionAttributeValues: { ':repository': repository, ':replicable': this.replicable, ':pending': 'pending', ':zero': 0, ':at': at, ':reason': reason },
      }),
    );
  }

  /** Notes that git-geo asked for a sync of a known repository (so the watchdog does not ask again at once). */
  async markSyncRequested(repository: RepositoryPath, at: string, reason: string): Promise<void> {
    await updateIf(this.db, {
      TableName: this.tableName,
      Key: this.key(repository),
      UpdateExpression: 'SET #at = :at, #reason = :reason',
      ConditionExpression: 'attribute_exists(pk)',
      ExpressionAttributeNames: { '#at': 'syncRequestedAt', '#reason': 'syncRequestReason' },
      ExpressionAttributeValues: { ':at': at, ':reason': reason },
    });
  }

  async remove(repository: RepositoryPath): Promise<void> {
    await this.db.send(new DeleteCommand({ TableName: this.tableName, Key: this.key(repository) }));
  }

  /**
   * The repositories in one status, from the status index (a Query, never a Scan), oldest update
   * first: those updated before `updatedBefore`, and when `verifiedBefore` is given only those
   * never verified or verified before it.
   */
  async *withStatus(
    status: ReplicationStatus,
    options: { updatedBefore?: string; updatedSince?: string; verifiedBefore?: string; startKey?: Record<string, unknown> } = {},
  ): AsyncIterable<StatusEntry & { readonly cursor: StatusCursor }> {
    const names: Record<string, string> = { '#status': STATUS_INDEX.partitionKey, '#sk': 'sk' };
    const values: Record<string, unknown> = { ':status': status, ':replicable': this.replicable };
    let condition = '#status = :status';
    if (options.updatedBefore !== undefined) {
      names['#updatedAt'] = STATUS_INDEX.sortKey;
      values[':before'] = options.updatedBefore;
      condition += ' AND #updatedAt < :before';
    } else if (options.updatedSince !== undefined) {
      names['#updatedAt'] = STATUS_INDEX.sortKey;
      values[':since'] = options.updatedSince;
      condition += ' AND #updatedAt >= :since';
    }
    let filter = '#sk = :replicable';
    if (options.verifiedBefore !== undefined) {
      names['#verified'] = 'lastVerifiedAt';
      values[':verifiedBefore'] = options.verifiedBefore;
      filter += ' AND (attribute_not_exists(#verified) OR #verified < :verifiedBefore)';
    }
    const pages = paginateQuery(
      { client: this.db, startingToken: options.startKey },
      {
        TableName: this.tableName,
        IndexName: STATUS_INDEX.name,
        KeyConditionExpression: condition,
        FilterExpression: filter,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        // The cursor after this item: a walk resumed from it starts past it.
        const lastKey: Record<string, unknown> = { pk: item.pk as unknown, sk: item.sk as unknown, [STATUS_INDEX.partitionKey]: item.status as unknown, [STATUS_INDEX.sortKey]: item.updatedAt as unknown };
        yield {
          repository: item.pk as RepositoryPath,
          status: item.status as ReplicationStatus,
          updatedAt: String(item.updatedAt),
          ...(item.lastVerifiedAt === undefined ? {} : { lastVerifiedAt: String(item.lastVerifiedAt) }),
          cursor: { status, lastKey },
        };
      }
    }
  }

  /** Every repository in the given statuses, status by status, from `cursor` on (the status index: no Scan). */
  async *inStatuses(statuses: readonly ReplicationStatus[], cursor?: StatusCursor): AsyncIterable<StatusEntry & { readonly cursor: StatusCursor }> {
    const from = cursor === undefined ? 0 : Math.max(0, statuses.indexOf(cursor.status));
    for (const [offset, status] of statuses.slice(from).entries()) {
      const startKey = offset === 0 ? cursor?.lastKey : undefined;
      yield* this.withStatus(status, startKey === undefined ? {} : { startKey });
    }
  }

  /** Every item, by a Scan: for operators' commands only, never a schedule (they use the status index). */
  async *list(): AsyncIterable<RepositoryState> {
    for await (const page of paginateScan({ client: this.db }, { TableName: this.tableName })) {
      for (const item of page.Items ?? []) {
        if (item.sk === this.replicable) yield repositoryStateOf(item);
      }
    }
  }
}

/** A repository's registry item as its state: the key attributes dropped, and no attempts counted until one is. */
export function repositoryStateOf(item: Record<string, unknown>): RepositoryState {
  const { pk: _pk, sk: _sk, ...rest } = item;
  return { attempts: 0, ...rest } as unknown as RepositoryState;
}
