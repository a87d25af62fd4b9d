import { createHash } from 'node:crypto';
import { QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { assertExpressionFits, MAX_EXPRESSION_CLAUSES } from '../aws/updateExpression.ts';
import type { RefChange } from '../events/ChangeEvent.ts';

/**
 * Known refs are spread over this many items per repository, by a hash of the ref name. At
 * 100,000 refs that is about 400 refs an item: about 40 KB with typical names, and room for names
 * averaging 900 bytes before one item reaches DynamoDB's 400 KB.
 */
export const KNOWN_REF_SHARDS = 256;
/** Shard updates in flight at once for one event. */
const PARALLEL_WRITES = 8;
const SHARD_PREFIX = 'knownrefs#';

const ZERO_OID = /^0+$/;

export function knownRefShard(ref: string): number {
  return createHash('sha1').update(ref).digest().readUInt32BE(0) % KNOWN_REF_SHARDS;
}

const shardKey = (shard: number): string => `${SHARD_PREFIX}${shard.toString().padStart(3, '0')}`;

/**
 * The primary's refs as the published events describe them, for one repository: ref name to
 * object id, kept as top-level attributes of `KNOWN_REF_SHARDS` items beside the repository's head
 * item (so no single item or update expression grows with the ref count). An update touches only
 * the items of the refs it changes, in expressions of at most MAX_EXPRESSION_CLAUSES clauses.
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
      byShard.set(shard, [...(byShard.get(shard) ?? []), entry]);
    }
    const writes: { shard: number; entries: [string, string][] }[] = [];
    for (const [shard, entries] of byShard) {
      for (let start = 0; start < entries.length; start += MAX_EXPRESSION_CLAUSES) writes.push({ shard, entries: entries.slice(start, start + MAX_EXPRESSION_CLAUSES) });
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < writes.length) {
        const write = writes[next++]!;
        await this.write(partitionKey, write.shard, write.entries);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_WRITES, writes.length) }, worker));
  }

  private async write(partitionKey: string, shard: number, entries: readonly [string, string][]): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, string> = {};
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
    const expression = [sets.length > 0 ? `SET ${sets.join(', ')}` : '', removes.length > 0 ? `REMOVE ${removes.join(', ')}` : ''].filter(Boolean).join(' ');
    assertExpressionFits(expression, entries.length, `known refs of ${partitionKey}`);
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { pk: partitionKey, sk: shardKey(shard) },
        UpdateExpression: expression,
        ExpressionAttributeNames: names,
        ...(sets.length > 0 ? { ExpressionAttributeValues: values } : {}),
      }),
    );
  }

  /** Every known ref of the repository (a query over its shard items, 1 MB a page). */
  async read(partitionKey: string): Promise<Record<string, string>> {
    const refs: Record<string, string> = {};
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :shard)',
          ExpressionAttributeValues: { ':pk': partitionKey, ':shard': SHARD_PREFIX },
          ConsistentRead: true,
          ExclusiveStartKey,
        }),
      );
      for (const item of page.Items ?? []) {
        for (const [name, value] of Object.entries(item)) if (name !== 'pk' && name !== 'sk' && typeof value === 'string') refs[name] = value;
      }
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
    return refs;
  }
}
