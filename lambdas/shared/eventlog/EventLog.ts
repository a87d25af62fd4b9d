import { GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { updateExpression } from '../aws/updateExpression.ts';
import type { ChangeEvent } from '../events/ChangeEvent.ts';
import type { RepositoryPath } from '../repositoryPath.ts';

/** Event items expire after this long (the per-repository head item never does). */
export const EVENT_RETENTION_SECONDS = 90 * 24 * 3600;

export interface RepositoryHead {
  readonly latestSequence: number;
  readonly latestReceivedAt: string;
  /** The primary's refs as the events describe them: ref name to object id. */
  readonly knownRefs: Readonly<Record<string, string>>;
}

const repoKey = (repository: RepositoryPath): string => `repo#${repository}`;
const eventKey = (sequence: number): string => `event#${sequence.toString().padStart(12, '0')}`;

/**
 * The primary region's log of change events, one partition per repository.
 * A head item per repository hands out sequence numbers, so events of one
 * repository are totally ordered, and remembers the newest event.
 */
export class EventLog {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

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

  /** Stores an event, not yet published. */
  async append(event: ChangeEvent): Promise<void> {
    await this.db.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          pk: repoKey(event.repository),
          sk: eventKey(event.sequence),
          event,
          published: false,
          expiration: Math.floor(Date.parse(event.receivedAt) / 1000) + EVENT_RETENTION_SECONDS,
        },
      }),
    );
  }

  /** Marks an event published, and folds its ref changes into the repository's known refs. */
  async markPublished(event: ChangeEvent): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: repoKey(event.repository), sk: eventKey(event.sequence) },
        ...updateExpression({ set: { published: true } }),
      }),
    );
    if (event.changes.length === 0 || event.changes.length > 500) return;
    // Known refs live in a map on the head item; one SET/REMOVE per changed ref.
    const names: Record<string, string> = { '#k': 'knownRefs' };
    const values: Record<string, unknown> = { ':empty': {} };
    const sets: string[] = [];
    const removes: string[] = [];
    event.changes.forEach((change, index) => {
      names[`#r${index}`] = change.ref;
      if (/^0+$/.test(change.after)) removes.push(`#k.#r${index}`);
      else {
        values[`:o${index}`] = change.after;
        sets.push(`#k.#r${index} = :o${index}`);
      }
    });
    const key = { pk: repoKey(event.repository), sk: 'head' };
    // The map must exist before nested paths can be set.
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: 'SET #k = if_not_exists(#k, :empty)',
        ExpressionAttributeNames: { '#k': 'knownRefs' },
        ExpressionAttributeValues: { ':empty': {} },
      }),
    );
    delete values[':empty'];
    const clauses = [sets.length > 0 ? `SET ${sets.join(', ')}` : '', removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '']
      .filter(Boolean)
      .join(' ');
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: clauses,
        ExpressionAttributeNames: names,
        ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
      }),
    );
  }

  async head(repository: RepositoryPath): Promise<RepositoryHead | undefined> {
    const { Item } = await this.db.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: repoKey(repository), sk: 'head' }, ConsistentRead: true }),
    );
    if (Item === undefined) return undefined;
    return {
      latestSequence: Number(Item.latestSequence ?? 0),
      latestReceivedAt: String(Item.latestReceivedAt ?? ''),
      knownRefs: (Item.knownRefs ?? {}) as Record<string, string>,
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
}
