import { describe, expect, it } from '@jest/globals';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { KnownRefs, knownRefShard } from '../../lambdas/shared/eventlog/KnownRefs.ts';

type Item = Record<string, unknown>;
const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));

/**
 * A table that answers each request after a pause, as a server under load does, and applies the
 * three requests KnownRefs sends (UpdateItem with SET/REMOVE/ADD, GetItem, conditional PutItem).
 * It records how many requests on one item were in flight at once.
 */
function slowTable() {
  const items = new Map<string, Item>();
  const inFlight = new Map<string, number>();
  const sent: string[] = [];
  let mostOverlapping = 0;
  const db = {
    async send(command: UpdateCommand | GetCommand | PutCommand) {
      const input = command.input as { Key?: Item; Item?: Item; ConditionExpression?: string; UpdateExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Record<string, unknown> };
      const keyOf = (item: Item): string => `${String(item.pk)}|${String(item.sk)}`;
      const key = keyOf(input.Key ?? input.Item!);
      sent.push(command.constructor.name);
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      mostOverlapping = Math.max(mostOverlapping, inFlight.get(key)!);
      await pause();
      try {
        const names = input.ExpressionAttributeNames ?? {};
        const values = input.ExpressionAttributeValues ?? {};
        const existing = items.get(key);
        if (command.constructor.name === 'GetCommand') return { Item: existing === undefined ? undefined : structuredClone(existing) };
        if (command.constructor.name === 'PutCommand') {
          const condition = input.ConditionExpression ?? '';
          const version = existing?.[names['#version'] ?? ''];
          const holds =
            condition === 'attribute_not_exists(pk)' ? existing === undefined
            : condition === 'attribute_not_exists(#version)' ? existing !== undefined && version === undefined
            : condition === '#version = :version' ? version === values[':version']
            : true;
          if (!holds) throw new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} });
          items.set(key, structuredClone(input.Item!));
          return {};
        }
        const item: Item = { ...(existing ?? input.Key) };
        const expression = input.UpdateExpression ?? '';
        for (const [, name, value] of expression.matchAll(/(#r\d+) = (:o\d+)/g)) item[names[name!]!] = values[value!];
        for (const [, list] of expression.matchAll(/REMOVE ([#r\d, ]+?)(?: ADD|$)/g)) for (const name of list!.split(', ')) delete item[names[name]!];
        for (const [, name, value] of expression.matchAll(/ADD (#\w+) (:\w+)/g)) item[names[name!]!] = Number(item[names[name!]!] ?? 0) + Number(values[value!]);
        items.set(key, item);
        return {};
      } finally {
        inFlight.set(key, inFlight.get(key)! - 1);
      }
    },
  } as unknown as DynamoDBDocumentClient;
  return { db, items, sent, mostOverlapping: () => mostOverlapping };
}

/** `count` ref names that all fall in shard 0, from `start` on. */
function refsOfShardZero(count: number, label: string): string[] {
  const refs: string[] = [];
  for (let index = 0; refs.length < count; index++) {
    const ref = `refs/heads/${label}${index}`;
    if (knownRefShard(ref) === 0) refs.push(ref);
  }
  return refs;
}

const created = (refs: readonly string[], oid = 'a'.repeat(40)) => refs.map((ref) => ({ ref, before: '0'.repeat(40), after: oid }));
const refsOf = (item: Item | undefined): string[] => Object.keys(item ?? {}).filter((name) => name.startsWith('refs/')).sort();

describe('KnownRefs.apply', () => {
  it('writes a shard item that takes many changes as one read and one put, never two requests on it at once', async () => {
    const refs = refsOfShardZero(250, 'b');
    const table = slowTable();
    await new KnownRefs(table.db, 'events').apply('repo#a/b', created(refs));
    expect(table.sent).toEqual(['GetCommand', 'PutCommand']);
    expect(table.mostOverlapping()).toBe(1);
    expect(refsOf(table.items.get('repo#a/b|knownrefs#000'))).toEqual([...refs].sort());
  });

  it('loses nothing when two events write the same shard item at once: a put that did not read the other write reads again', async () => {
    const table = slowTable();
    const knownRefs = new KnownRefs(table.db, 'events');
    const first = refsOfShardZero(40, 'first');
    const second = refsOfShardZero(40, 'second');
    const few = refsOfShardZero(3, 'few');
    await Promise.all([knownRefs.apply('repo#a/b', created(first)), knownRefs.apply('repo#a/b', created(second)), knownRefs.apply('repo#a/b', created(few))]);
    expect(refsOf(table.items.get('repo#a/b|knownrefs#000'))).toEqual([...first, ...second, ...few].sort());
    // Then a deletion of some, in one short update, and of others, in a put.
    await knownRefs.apply('repo#a/b', [...first.slice(0, 20), ...few].map((ref) => ({ ref, before: 'a'.repeat(40), after: '0'.repeat(40) })));
    await knownRefs.apply('repo#a/b', second.slice(0, 2).map((ref) => ({ ref, before: 'a'.repeat(40), after: '0'.repeat(40) })));
    expect(refsOf(table.items.get('repo#a/b|knownrefs#000'))).toEqual([...first.slice(20), ...second.slice(2)].sort());
  });
});
