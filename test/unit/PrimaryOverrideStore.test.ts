import { describe, expect, it } from '@jest/globals';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PrimaryOverrideStore, type PrimaryOverride } from '../../lambdas/shared/primary/PrimaryOverride.ts';

const OVERRIDE: PrimaryOverride = {
  url: 'https://git-dr.example.com',
  previousUrl: 'https://git.example.com',
  fromRegion: 'eu-west-1',
  promotedAt: '2026-11-28T10:00:00.000Z',
  promotedBy: 'operator',
  planned: false,
  promotionId: 'p1',
};

/** A table that answers GetItem with whatever `answer` says now, counting reads. */
function table(answer: () => Promise<Record<string, unknown> | undefined>): { db: DynamoDBDocumentClient; reads: () => number } {
  let reads = 0;
  const db = {
    send: async () => {
      reads++;
      return { Item: await answer() };
    },
  } as unknown as DynamoDBDocumentClient;
  return { db, reads: () => reads };
}

describe('PrimaryOverrideStore', () => {
  it('answers the configured URL when there is no override, and the override when there is', async () => {
    const state: { item?: Record<string, unknown> } = {};
    const { db } = table(() => Promise.resolve(state.item));
    const store = new PrimaryOverrideStore(db, 'events', 0);
    expect(await store.url('https://git.example.com')).toBe('https://git.example.com');
    state.item = { url: OVERRIDE.url, override: OVERRIDE };
    expect(await store.url('https://git.example.com')).toBe(OVERRIDE.url);
    expect(await store.current()).toEqual(OVERRIDE);
  });

  it('reads once per cache period, and concurrent callers share one read', async () => {
    const { db, reads } = table(() => new Promise((resolve) => setTimeout(() => resolve({ url: OVERRIDE.url, override: OVERRIDE }), 20)));
    const store = new PrimaryOverrideStore(db, 'events', 60_000);
    const answers = await Promise.all(Array.from({ length: 10 }, () => store.current()));
    expect(answers.every((answer) => answer?.url === OVERRIDE.url)).toBe(true);
    expect(reads()).toBe(1);
    await store.current();
    expect(reads()).toBe(1);
    store.invalidate();
    await store.current();
    expect(reads()).toBe(2);
  });

  it('keeps the last value when the table cannot be read, and fails when it never could', async () => {
    let failing = false;
    const { db } = table(() => (failing ? Promise.reject(new Error('unreachable')) : Promise.resolve({ url: OVERRIDE.url, override: OVERRIDE })));
    const store = new PrimaryOverrideStore(db, 'events', 0);
    expect((await store.current())?.url).toBe(OVERRIDE.url);
    failing = true;
    expect((await store.current())?.url).toBe(OVERRIDE.url);
    await expect(new PrimaryOverrideStore(db, 'events', 0).current()).rejects.toThrow('unreachable');
  });
});
