import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { GetCommand, paginateScan, QueryCommand, TransactWriteCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { updateExpression } from '../aws/updateExpression.ts';
import { RateLimitedError } from '../errors/RateLimitedError.ts';
import type { ChangeEvent, RefChange } from '../events/ChangeEvent.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import { KnownRefs } from './KnownRefs.ts';
import { UNPUBLISHED_INDEX } from './unpublishedIndex.ts';
import { updateIf } from '../aws/updateIf.ts';

/** Event items expire after this long (the per-repository head item never does). */
export const EVENT_RETENTION_SECONDS = 90 * 24 * 3600;

export interface RepositoryHead {
  readonly latestSequence: number;
  readonly latestReceivedAt: string;
  /** The primary's refs as the published events describe them: ref name to object id (kept in KnownRefs' items). */
  readonly knownRefs: Readonly<Record<string, string>>;
}

const PENDING = 'pending';
/** Sequences tried for one event before giving up (only a sequence handed out twice needs a second). */
const SEQUENCE_ATTEMPTS = 5;
const UNPUBLISHED_INDEX_KEYS = UNPUBLISHED_INDEX;

export interface RecordedEvent {
  readonly event: ChangeEvent;
  readonly published: boolean;
  /** False when this event id was recorded before (a retried delivery): nothing new was written. */
  readonly created: boolean;
  /** Set when the same signed content was recorded from another delivery within the replay window: that delivery's id. */
  readonly replayOf?: string;
}

/**
 * How a webhook's change is guarded (lambdas/notify/replayGuard.ts): its signed content is
 * recorded once per window whatever delivery id it comes with, and a repository records at most
 * `maxPerSecond` events in one second.
 */
export interface RecordGuard {
  /** The signed content's key (host, digest of what the signature covers, the change's index in it). */
  readonly contentKey: string;
  readonly deliveryId: string;
  readonly replayWindowSeconds: number;
  readonly maxPerSecond: number;
}

/** An event found by its id, and when its id item was written (items from before the replay guard have none). */
type RecordedAt = Omit<RecordedEvent, 'created' | 'replayOf'> & { readonly recordedAt?: string };

const repoKey = (repository: RepositoryPath): string => `repo#${repository}`;
const eventKey = (sequence: number): string => `event#${sequence.toString().padStart(12, '0')}`;
const idKey = (eventId: string): string => `eventid#${eventId}`;

/**
 * The primary region's log of change events, one partition per repository.
 * A head item per repository hands out sequence numbers, so events of one
 * repository are totally ordered, and remembers the newest event.
 */
export class EventLog {
  private readonly knownRefs: KnownRefs;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {
    this.knownRefs = new KnownRefs(db, tableName);
  }

  /** Takes the repository's next sequence number. Gaps are harmless; order is what matters. */
  async nextSequence(repository: RepositoryPath, receivedAt: string): Promise<number> {
    const update = updateExpression({ set: { latestReceivedAt: receivedAt }, add: { latestSequence: 1 } });
    const { Attributes } = await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: repoKey(repository), sk: 'head' },
        ...update,
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(Attributes?.latestSequence);
  }

  /**
   * Stores an event, not yet published, exactly once per event id: a retried delivery gets the
   * event (and sequence) recorded the first time, so the log never holds the same change twice.
   * `build` turns the sequence number taken for a new event into the event.
   *
   * Two writes: the head item's counter hands out the sequence (an atomic ADD, so concurrent
   * events of one repository never contend or retry), then one transaction puts the event and its
   * id. A sequence number is lost only when the same delivery is recorded twice at once.
   */
  async record(repository: RepositoryPath, eventId: string, receivedAt: string, build: (sequence: number) => ChangeEvent, guard?: RecordGuard): Promise<RecordedEvent> {
    // Guarded, the id item is the signed content's, so a replay under a new delivery id finds it too.
    const idOf = guard === undefined ? eventId : `content:${guard.contentKey}`;
    const windowStart = guard === undefined ? undefined : new Date(Date.parse(receivedAt) - guard.replayWindowSeconds * 1000).toISOString();
    const seen = (found: RecordedAt | undefined): RecordedEvent | undefined => {
      if (found === undefined) return undefined;
      const { recordedAt, ...existing } = found;
      if (guard === undefined || existing.event.deliveryId === guard.deliveryId) return { ...existing, created: false };
      // The same signed content from another delivery: a replay within the window; past it, a new change.
      if (recordedAt !== undefined && windowStart !== undefined && recordedAt < windowStart) return undefined;
      return { ...existing, created: false, replayOf: existing.event.deliveryId };
    };
    const known = seen(await this.byEventId(repository, idOf));
    if (known !== undefined) return known;
    for (let attempt = 1; ; attempt++) {
      const sequence = guard === undefined ? await this.nextSequence(repository, receivedAt) : await this.nextSequenceWithin(repository, receivedAt, guard.maxPerSecond);
      const event = build(sequence);
      try {
        await this.putEvent(repository, idOf, event, windowStart);
        return { event, published: false, created: true };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        // The same delivery is being recorded concurrently: the first writer's event wins; our sequence is a harmless gap.
        const winner = seen(await this.byEventId(repository, idOf));
        if (winner !== undefined) return winner;
        // The sequence was handed out twice: DynamoDB's ADD never does, but moto's threaded server can. Take another.
        if (attempt >= SEQUENCE_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * nextSequence, bounded to `maxPerSecond` events of the repository in one (wall-clock) second,
   * counted on the same head item in the same write: the first event of a second starts its
   * count, later ones add to it while under the bound. Past it, RateLimitedError: nothing taken.
   */
  private async nextSequenceWithin(repository: RepositoryPath, receivedAt: string, maxPerSecond: number): Promise<number> {
    const second = Math.floor(Date.parse(receivedAt) / 1000);
    const names = { '#seq': 'latestSequence', '#at': 'latestReceivedAt', '#second': 'rateSecond', '#count': 'rateCount' };
    const take = async (update: string, condition: string, values: Record<string, unknown>): Promise<number | undefined> => {
      try {
        const { Attributes } = await this.db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: { pk: repoKey(repository), sk: 'head' },
            UpdateExpression: update,
            ConditionExpression: condition,
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ':one': 1, ':at': receivedAt, ':second': second, ...values },
            ReturnValues: 'UPDATED_NEW',
          }),
        );
        return Number(Attributes?.latestSequence);
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return undefined;
        throw error;
      }
    };
    // Most events are the first of their second: one write.
    const first = await take('SET #at = :at, #second = :second, #count = :one ADD #seq :one', 'attribute_not_exists(#second) OR #second < :second', {});
    if (first !== undefined) return first;
    const more = await take('SET #at = :at ADD #seq :one, #count :one', '#second >= :second AND #count < :max', { ':max': maxPerSecond });
    if (more !== undefined) return more;
    throw new RateLimitedError(`${repository} has recorded ${maxPerSecond} events in this second, its bound (maxEventsPerRepositoryPerSecond); retry the delivery`, 1, {
      data: { repository, maxPerSecond },
    });
  }

  /**
   * One transaction: the event id (so a retried delivery finds it) and the event, neither written
   * before; with `replaceBefore`, an id item recorded before then is taken over (a replay window passed).
   */
  private async putEvent(repository: RepositoryPath, eventId: string, event: ChangeEvent, replaceBefore?: string): Promise<void> {
    const expiration = Math.floor(Date.parse(event.receivedAt) / 1000) + EVENT_RETENTION_SECONDS;
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Put: {
              TableName: this.tableName,
              Item: { pk: repoKey(repository), sk: idKey(eventId), sequence: event.sequence, recordedAt: event.receivedAt, expiration },
              ...(replaceBefore === undefined
                ? { ConditionExpression: 'attribute_not_exists(pk)' }
                : { ConditionExpression: 'attribute_not_exists(pk) OR #recorded < :before', ExpressionAttributeNames: { '#recorded': 'recordedAt' }, ExpressionAttributeValues: { ':before': replaceBefore } }),
            },
          },
          {
            Put: {
              TableName: this.tableName,
              Item: {
                pk: repoKey(repository),
                sk: eventKey(event.sequence),
                event,
                published: false,
                [UNPUBLISHED_INDEX_KEYS.partitionKey]: PENDING,
                [UNPUBLISHED_INDEX_KEYS.sortKey]: event.receivedAt,
                expiration,
              },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
  }

  private async byEventId(repository: RepositoryPath, eventId: string): Promise<RecordedAt | undefined> {
    const { Item: id } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: repoKey(repository), sk: idKey(eventId) }, ConsistentRead: true }),
    );
    if (id === undefined) return undefined;
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: repoKey(repository), sk: eventKey(Number(id.sequence)) }, ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    return { event: Item.event as ChangeEvent, published: Boolean(Item.published), ...(typeof id.recordedAt === 'string' ? { recordedAt: id.recordedAt } : {}) };
  }

  /**
   * Events recorded but not yet published, received before `before`, oldest first: the
   * republisher's work list. Reads the sparse index, so it costs nothing when all is well.
   */
  async *unpublished(before: string): AsyncIterable<ChangeEvent> {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: UNPUBLISHED_INDEX.name,
          KeyConditionExpression: '#p = :p AND #r < :before',
          ExpressionAttributeNames: { '#p': UNPUBLISHED_INDEX_KEYS.partitionKey, '#r': UNPUBLISHED_INDEX_KEYS.sortKey },
          ExpressionAttributeValues: { ':p': PENDING, ':before': before },
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) yield item.event as ChangeEvent;
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
  }

  /**
   * Marks an event published (it leaves the unpublished index), and folds ref changes into the
   * repository's known refs: the event's own, or `changes` when the caller holds the full list of
   * an event whose changes were left out for transport (fitForTransport).
   */
  async markPublished(event: ChangeEvent, changes: readonly RefChange[] = event.changes): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: repoKey(event.repository), sk: eventKey(event.sequence) },
        ...updateExpression({ set: { published: true }, remove: [UNPUBLISHED_INDEX_KEYS.partitionKey] }),
      }),
    );
    await this.knownRefs.apply(repoKey(event.repository), changes);
  }

  async head(repository: RepositoryPath): Promise<RepositoryHead | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: repoKey(repository), sk: 'head' }, ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    return {
      latestSequence: Number(Item.latestSequence ?? 0),
      latestReceivedAt: String(Item.latestReceivedAt ?? ''),
      knownRefs: await this.knownRefs.read(repoKey(repository)),
    };
  }

  /**
   * The newest event's sequence and receipt time, and nothing else: regional endpoints read
   * this across regions on every fresh read, and their grant covers only these attributes.
   */
  async latest(repository: RepositoryPath): Promise<{ latestSequence: number; latestReceivedAt: string } | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: repoKey(repository), sk: 'head' },
        ProjectionExpression: '#s, #r',
        ExpressionAttributeNames: { '#s': 'latestSequence', '#r': 'latestReceivedAt' },
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    return { latestSequence: Number(Item.latestSequence ?? 0), latestReceivedAt: String(Item.latestReceivedAt ?? '') };
  }

  /** Every repository's head item (an operator's scan: RPO reports, planned promotions). */
  async *heads(): AsyncIterable<RepositoryHead & { repository: RepositoryPath }> {
    for await (const page of paginateScan(
      { client: this.db },
      {
        TableName: this.tableName,
        FilterExpression: 'sk = :head AND begins_with(pk, :repo)',
        ExpressionAttributeValues: { ':head': 'head', ':repo': 'repo#' },
        ConsistentRead: true,
      },
    )) {
      for (const item of page.Items ?? []) {
        yield {
          repository: String(item.pk).slice('repo#'.length) as RepositoryPath,
          latestSequence: Number(item.latestSequence ?? 0),
          latestReceivedAt: String(item.latestReceivedAt ?? ''),
          knownRefs: await this.knownRefs.read(String(item.pk)),
        };
      }
    }
  }

  /** A repository's events in order, oldest first. */
  async *events(repository: RepositoryPath): AsyncIterable<ChangeEvent & { published: boolean }> {
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :event)',
          ExpressionAttributeValues: { ':pk': repoKey(repository), ':event': 'event#' },
          ExclusiveStartKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) yield { ...(item.event as ChangeEvent), published: Boolean(item.published) };
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
  }

  /**
   * Makes the repository's next sequence come after `floor`, unless it already does: an event log
   * taking over from a lost one must never hand out a sequence regions have already seen.
   */
  async raiseSequenceFloor(repository: RepositoryPath, floor: number, at: string): Promise<boolean> {
    return await updateIf(this.db, {
      TableName: this.tableName,
      Key: { pk: repoKey(repository), sk: 'head' },
      UpdateExpression: 'SET #s = :floor, #r = if_not_exists(#r, :at)',
      ConditionExpression: 'attribute_not_exists(#s) OR #s < :floor',
      ExpressionAttributeNames: { '#s': 'latestSequence', '#r': 'latestReceivedAt' },
      ExpressionAttributeValues: { ':floor': floor, ':at': at },
    });
  }
}
