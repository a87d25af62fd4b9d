import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { GetCommand, paginateQuery, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { assertExpressionFits } from '../aws/updateExpression.ts';
import type { RefChange } from '../events/ChangeEvent.ts';

/**
 * Known refs are spread over this many items per repository, by a hash of the ref name. At
 * 100,000 refs that is about 400 refs an item: about 40 KB with typical names, and room for names
 * averaging 900 bytes before one item reaches DynamoDB's 400 KB.
 */
export const KNOWN_REF_SHARDS = 256;
/** Shard items written at once for one event. */
const PARALLEL_WRITES = 8;
/**
 * A shard item that takes at most this many changes gets one update expression; one that takes
 * more is read, merged and put back whole. A put costs DynamoDB the same write units as an update
 * of the same item (both are billed by the item's size) and needs no expression, whatever the
 * count: no chunking, and no long expressions, which moto parses at several milliseconds a clause.
 */
const UPDATE_AT_MOST = 16;
/** Attempts at a read-merge-put before giving up (another writer changed the item in between). */
const PUT_ATTEMPTS = 5;
const SHARD_PREFIX = 'knownrefs#';
/** The shard item's version, raised by every write, so a put never overwrites a write it did not read. `:` is never in a ref name. */
const VERSION = 'git-geo:version';

const ZERO_OID = /^0+$/;

export function knownRefShard(ref: string): number {
  return createHash('sha1').update(ref).digest().readUInt32BE(0) % KNOWN_REF_SHARDS;
}

const shardKey = (shard: number): string => `${SHARD_PREFIX}${shard.toString().padStart(3, '0')}`;

/**
 * The primary's refs as the published events describe them, for one repository: ref name to
 * object id, kept as top-level attributes of `KNOWN_REF_SHARDS` items beside the repository's head
 * item (so no single item or update expression grows with the ref count). An update touches only
 * the items of the refs it changes: a few changes in one short expression, many in a versioned put.
 */
export class KnownRefs {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Folds ref changes in: a zero `after` removes the ref. The last change of a ref wins. */
  async apply(partitionKey: string, changes: readonly RefChange[]): Promise<void> {
    const latest = new Map<string, string>();
    for (const change of changes) latest.set(change.ref, change.after);
    const byShard = new Map<number, [string, string][]>();
    for (const entry of latest) {
      const shard = knownRefShard(entry[0]);
      const entries = byShard.get(shard);
      if (entries === undefined) byShard.set(shard, [entry]);
      else entries.push(entry);
    }
    // Each shard item is written by one request at a time (never two of this event at once).
    const shards = [...byShard];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < shards.length) {
        const [shard, entries] = shards[next++]!;
        if (entries.length <= UPDATE_AT_MOST) await this.update(partitionKey, shard, entries);
        else await this.merge(partitionKey, shard, entries);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_WRITES, shards.length) }, worker));
  }

  private async update(partitionKey: string, shard: number, entries: readonly [string, string][]): Promise<void> {
    const names: Record<string, string> = { '#version': VERSION };
    const values: Record<string, string | number> = { ':one': 1 };
    const sets: string[] = [];
    const removes: string[] = [];
    entries.forEach(([ref, after], index) => {
      names[`#r${index}`] = ref;
      if (ZERO_OID.test(after)) removes.push(`#r${index}`);
      else {
        values[`:o${index}`] = after;
        sets.push(`#r${index} = :o${index}`);
      }
    });
    const expression = [sets.length > 0 ? `SET ${sets.join(', ')}` : '', removes.length > 0 ? `REMOVE ${removes.join(', ')}` : '', 'ADD #version :one'].filter(Boolean).join(' ');
    assertExpressionFits(expression, entries.length + 1, `known refs of ${partitionKey}`);
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: partitionKey, sk: shardKey(shard) },
        UpdateExpression: expression,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }

  /** Reads the shard item, applies the changes and puts it back, unless another write came in between (then again). */
  private async merge(partitionKey: string, shard: number, entries: readonly [string, string][]): Promise<void> {
    const key = { pk: partitionKey, sk: shardKey(shard) };
    for (let attempt = 1; ; attempt++) {
      const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }));
      const item: Record<string, unknown> = { ...Item, ...key };
      for (const [ref, after] of entries) {
        if (ZERO_OID.test(after)) delete item[ref];
        else item[ref] = after;
      }
      const version = Item?.[VERSION] as number | undefined;
      item[VERSION] = (version ?? 0) + 1;
      try {
        await this.db.send(
          new PutCommand({
            TableName: this.tableName,
            Item: item,
            ...(Item === undefined
              ? { ConditionExpression: 'attribute_not_exists(pk)' }
              : version === undefined
                ? { ConditionExpression: 'attribute_not_exists(#version)', ExpressionAttributeNames: { '#version': VERSION } }
                : { ConditionExpression: '#version = :version', ExpressionAttributeNames: { '#version': VERSION }, ExpressionAttributeValues: { ':version': version } }),
          }),
        );
        return;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException) || attempt >= PUT_ATTEMPTS) throw error;
      }
    }
  }

  /** Every known ref of the repository (a query over its shard items, 1 MB a page). */
  async read(partitionKey: string): Promise<Record<string, string>> {
    const refs: Record<string, string> = {};
    const pages = paginateQuery(
      { client: this.db },
      {
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :shard)',
        ExpressionAttributeValues: { ':pk': partitionKey, ':shard': SHARD_PREFIX },
        ConsistentRead: true,
      },
    );
    for await (const page of pages) {
      for (const item of page.Items ?? []) {
        for (const [name, value] of Object.entries(item)) if (name !== 'pk' && name !== 'sk' && typeof value === 'string') refs[name] = value;
      }
    }
    return refs;
  }
}
