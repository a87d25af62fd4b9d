import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RepositoryLister } from '../../lambdas/backfill/RepositoryLister.ts';
import { reconcileSelectiveSync } from '../../lambdas/backfill/reconcileSelectiveSync.ts';
import { runBackfill } from '../../lambdas/backfill/runBackfill.ts';
import { TokenBucket } from '../../lambdas/backfill/TokenBucket.ts';
import { blobSteps } from '../../lambdas/replicable/blobSteps.ts';
import { ItemRegistry } from '../../lambdas/replicable/ItemRegistry.ts';
import { REPLICABLE_TYPES } from '../../lambdas/replicable/registry.ts';
import type { ReplicableType } from '../../lambdas/replicable/ReplicableType.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { SyncRequester } from '../../lambdas/shared/events/SyncRequester.ts';
import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { RegionControl } from '../../lambdas/shared/registry/RegionControl.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { MemoryObjectStore } from '../../lambdas/shared/storage/MemoryObjectStore.ts';
import { readRegionStatus, type RegionStatus } from '../../lambdas/status/deploymentStatus.ts';
import { renderStatusPage } from '../../lambdas/status/renderStatusPage.ts';
import { SyncFailedError } from '../../lambdas/sync/SyncFailedError.ts';
import { syncRepository } from '../../lambdas/sync/syncRepository.ts';
import { createRegistryTable } from '../helpers/createRegistryTable.ts';

/*
 * Adding a replicable type is one module and one registration. The two types below are whole
 * modules as a new type would be written in lambdas/replicable/types/ (a blob type, "notes"
 * beside a repository, and a repository type, "snippets" at `<path>.snippets`); `TYPES` is the
 * one registration. The registry rows, backfill, verification (with its repairs), selective
 * sync and status then handle them with no other change: the consumers take the list of types.
 */

const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');
/** The primary's notes of each repository, by id (the SHA-256 of the content): what the notes API answers. */
const primaryNotes = new Map<string, Map<string, string | undefined>>();
interface NotesApi {
  notesOf(repository: string): Map<string, string | undefined>;
}
const noteKey = (repository: string, id: string): string => `${repository}.git/notes/${id}`;

const notes: ReplicableType = {
  name: 'note',
  strategy: 'blob',
  blob: {
    api: () => ({ notesOf: (repository: string) => primaryNotes.get(repository) ?? new Map<string, string | undefined>() }),
    itemsIn: () => [],
    list: (context, repository) => Promise.resolve([...(context.api as NotesApi).notesOf(repository).keys()].map((id) => ({ id }))),
    async fetch(context, repository, items) {
      const onPrimary = (context.api as NotesApi).notesOf(repository);
      const missingOnPrimary: string[] = [];
      let fetchedBytes = 0;
      for (const { id } of items) {
        const content = onPrimary.get(id);
        if (content === undefined) missingOnPrimary.push(id);
        else {
          await context.store.put(noteKey(repository, id), content);
          fetchedBytes += content.length;
        }
      }
      return { items: items.length, ids: items.map(({ id }) => id), fetched: items.length - missingOnPrimary.length, fetchedBytes, failed: [], missingOnPrimary };
    },
    async verify(context, repository, items) {
      const wrong: { id: string }[] = [];
      for (const item of items) {
        const stored = await context.store.get(noteKey(repository, item.id));
        if (stored === undefined || sha256(stored) !== item.id) wrong.push(item);
      }
      const repair = wrong.length === 0 ? undefined : await this.fetch(context, repository, wrong);
      return { items: items.length, ids: items.map(({ id }) => id), fetched: repair?.fetched ?? 0, fetchedBytes: 0, failed: wrong.map(({ id }) => id), missingOnPrimary: repair?.missingOnPrimary ?? [], unrepaired: [] };
    },
    serves: (rawPath) => rawPath.includes('/notes/'),
  },
};

const snippets: ReplicableType = {
  name: 'snippet',
  strategy: 'repository',
  repositoryOf: (project) => `${project}.snippets`,
  owns: (repository) => repository.endsWith('.snippets'),
  list: (project) => (project.listing?.snippets_enabled === true ? [`${project.path}.snippets`] : []),
};

/** The one registration. */
const TYPES: readonly ReplicableType[] = [...REPLICABLE_TYPES, notes, snippets];

const TABLE = `types-${randomUUID()}`;
const aws = clientConfig('eu-west-1', process.env.AWS_ENDPOINT_URL);
const dynamo = new DynamoDBClient(aws);
const db = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
const sqs = new SQSClient(aws);
const store = new MemoryObjectStore();
const items = new ItemRegistry(db, TABLE);
const registry = new Registry(db, TABLE);
const steps = blobSteps(store, { baseUrl: 'http://unused', authorization: undefined, timeoutMs: 1000, userAgent: 'test' }, { items, types: TYPES });
const status = (): Promise<RegionStatus> => readRegionStatus({ region: 'eu-west-1', registryTable: TABLE }, { documents: () => db, sqs: () => sqs }, { leaseSeconds: 900, lagSloSeconds: 60, backupIntervalMinutes: 60, types: TYPES }).then((region) => ({ ...region }));

describe('a replicable type is one module and one registration', () => {
  let requester: SyncRequester;
  beforeAll(async () => {
    await createRegistryTable(dynamo, TABLE);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `types-${randomUUID()}.fifo`, Attributes: { FifoQueue: 'true' } }));
    requester = new SyncRequester(sqs, QueueUrl!);
  });
  afterAll(() => {
    dynamo.destroy();
    sqs.destroy();
  });

  it('backfill lists every type through its own list (the project, its wiki, its snippets), under selective sync; status counts each type', async () => {
    const listing: Record<string, Record<string, unknown>> = {
      'acme/app': { has_wiki: true, snippets_enabled: true },
      'acme/lib': { has_wiki: false },
      'secret/vault': { has_wiki: true, snippets_enabled: true },
    };
    const lister: RepositoryLister = { listPage: () => Promise.resolve({ repositories: Object.keys(listing), listings: listing, total: 3 }) };
    const outcome = await runBackfill({
      lister,
      requester,
      registry,
      control: new RegionControl(db, TABLE),
      rule: { include: [], exclude: ['secret'] },
      ruleVersion: 'test',
      bucket: new TokenBucket(1000, 1000),
      now: () => new Date(),
      types: TYPES,
    });
    expect(outcome.progress).toEqual(expect.objectContaining({ state: 'complete', listed: 3, requested: 4, excluded: 3 }));
    const requested: string[] = [];
    for await (const state of registry.list()) requested.push(state.repository);
    expect(requested.sort()).toEqual(['acme/app', 'acme/app.snippets', 'acme/app.wiki', 'acme/lib']);

    const { byType } = await status();
    expect(Object.keys(byType).sort()).toEqual(['lfs-object', 'note', 'repository', 'snippet', 'wiki']);
    expect(byType.repository).toEqual(expect.objectContaining({ items: 2, byStatus: { pending: 2 } }));
    expect(byType.wiki).toEqual(expect.objectContaining({ items: 1, byStatus: { pending: 1 } }));
    expect(byType.snippet).toEqual(expect.objectContaining({ items: 1, byStatus: { pending: 1 } }));

    // The primary has no snippets repository (enabled, nothing in it yet): backfill's sync records it absent, not failed.
    const primary = new PrimaryRemote({ baseUrl: process.env.GIT_GEO_TEST_PRIMARY_URL!, authorization: undefined, timeoutMs: 10_000, userAgent: 'test' });
    const request = (repository: string, reason: string): ChangeEvent => ({ version: 1, eventId: `git-geo-${reason}-${randomUUID()}`, deliveryId: randomUUID(), source: 'git-geo', kind: 'sync.requested', repository: parseRepositoryPath(repository), changes: [], sequence: 0, receivedAt: new Date().toISOString() });
    const deps = { registry, store, primary, refNamespaces: ['refs/heads/', 'refs/tags/'], now: () => new Date() };
    expect(await syncRepository(deps, request('acme/app.snippets', 'backfill'))).toEqual({ kind: 'deleted', tombstone: undefined });
    expect((await registry.get(parseRepositoryPath('acme/app.snippets')))?.status).toBe('deleted');
    // Any other request for a repository the primary lacks is a failure, as before.
    await expect(syncRepository(deps, request('acme/app.wiki', 'stuck-sync'))).rejects.toThrow(SyncFailedError);
    const after = await status();
    expect(after.byType.snippet).toEqual(expect.objectContaining({ items: 0 }));
    expect(after.byType.wiki).toEqual(expect.objectContaining({ items: 1, failed: 1, failures: [{ code: 'ERR_REPOSITORY_NOT_FOUND', count: 1 }] }));
  });

  it("verification lists a blob type's items through its list, copies the ones never copied, re-checks content, repairs, and records a row per item", async () => {
    const repository = parseRepositoryPath('acme/app');
    const [first, second, third] = ['first note', 'second note', 'third note'].map((content) => sha256(content)) as [string, string, string];
    primaryNotes.set(repository, new Map([first, second, third].map((id, index) => [id, ['first note', 'second note', 'third note'][index]])));

    // Backfill of the type: nothing of it in the region yet; verification copies every listed item.
    expect((await steps.verify(repository)).note).toEqual(expect.objectContaining({ items: 3, fetched: 3, failed: [first, second, third], missingOnPrimary: [] }));
    expect(store.objects.get(noteKey(repository, second))?.toString()).toBe('second note');
    expect((await items.list(repository, 'note')).map((item) => item.status)).toEqual(['verified', 'verified', 'verified']);

    // A corrupted copy and a lost one are found by content and repaired.
    store.objects.set(noteKey(repository, second), Buffer.from('tampered'));
    store.objects.delete(noteKey(repository, third));
    expect((await steps.verify(repository)).note).toEqual(expect.objectContaining({ items: 3, failed: [second, third], fetched: 2 }));
    expect(store.objects.get(noteKey(repository, second))?.toString()).toBe('second note');
    let rows = new Map((await items.list(repository, 'note')).map((item) => [item.id, item]));
    expect(rows.get(first)).toEqual(expect.objectContaining({ status: 'verified', attempts: 0 }));
    expect(rows.get(second)).toEqual(expect.objectContaining({ status: 'verified', repairedAt: expect.any(String) }));

    // An item the primary lists and no longer has: failed, with why; status counts it as a failure of its type.
    const lost = sha256('a note the primary lost');
    primaryNotes.get(repository)!.set(lost, undefined);
    expect((await steps.verify(repository)).note).toEqual(expect.objectContaining({ items: 4, missingOnPrimary: [lost] }));
    rows = new Map((await items.list(repository, 'note')).map((item) => [item.id, item]));
    expect(rows.get(lost)).toEqual(expect.objectContaining({ status: 'failed', attempts: 1, lastError: expect.objectContaining({ code: 'ERR_MISSING_ON_PRIMARY', retryable: false }) }));
    const region = await status();
    expect(region.byType.note).toEqual(expect.objectContaining({ items: 4, synced: 3, verified: 3, failed: 1, failures: [{ code: 'ERR_MISSING_ON_PRIMARY', count: 1 }] }));
    expect(region.reasons).toContain('1 note item failed: ERR_MISSING_ON_PRIMARY (1)');
    // The status page shows the same counts per type.
    const page = renderStatusPage({ status: { generatedAt: new Date().toISOString(), lagSloSeconds: 60, regions: [region] }, refreshSeconds: 30, path: '/' });
    expect(page).toMatch(/<th scope="row"><code>note<\/code><\/th><td>4<\/td><td>3<\/td><td>3<\/td><td>1 <span class="muted">\(ERR_MISSING_ON_PRIMARY: 1\)/);

    // Verification lists every item: the row of an item no longer listed goes.
    primaryNotes.get(repository)!.delete(lost);
    await steps.verify(repository);
    expect((await items.list(repository, 'note')).map((item) => item.id).sort()).toEqual([first, second, third].sort());
    expect((await status()).byType.note).toEqual(expect.objectContaining({ items: 3, verified: 3, failed: 0 }));

    // Selective sync: a rule that now excludes the repository removes its mirror, its row and its items' rows.
    const reconciled = await reconcileSelectiveSync({ registry, items, store, rule: { include: [], exclude: ['acme'] }, now: () => new Date() });
    expect(reconciled.removed).toContain(repository);
    expect(await items.list(repository, 'note')).toEqual([]);
    expect((await status()).byType.note).toEqual(expect.objectContaining({ items: 0 }));
  });

  it('the generic consumers name no type: registry rows, backfill, status, verification and sync hold no per-type code', () => {
    const consumers = [
      'lambdas/replicable/blobSteps.ts',
      'lambdas/replicable/ItemRegistry.ts',
      'lambdas/replicable/countByType.ts',
      'lambdas/backfill/runBackfill.ts',
      'lambdas/status/deploymentStatus.ts',
      'lambdas/status/renderStatusPage.ts',
      'bin/commands/statusCommand.ts',
      'lambdas/verify/verifyRepository.ts',
      'lambdas/sync/syncRepository.ts',
      'lambdas/notify/parseWebhook.ts',
    ];
    // Code, not comments: comments may give examples.
    const code = (file: string): string => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');
    const naming = consumers.filter((file) => /wiki|lfs|snippet|\bnote\b/i.test(code(file)));
    expect(naming).toEqual([]);
  });
});
