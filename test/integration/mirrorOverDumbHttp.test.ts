import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { startGitServer, type GitServer } from '../../bin/local/startGitServer.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { MemoryObjectStore } from '../../lambdas/shared/storage/MemoryObjectStore.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';
import { syncRepository } from '../../lambdas/sync/syncRepository.ts';
import { commit } from '../helpers/testRuntime.ts';
import { createRegistryTable } from '../helpers/createRegistryTable.ts';

const repository = parseRepositoryPath('layout/app');

/** A store that fails every write after the first `allowed` ones, as a sync that crashes halfway. */
function failingAfter(store: ObjectStore, allowed: number): ObjectStore & { readonly puts: string[] } {
  const puts: string[] = [];
  const write = (key: string): void => {
    if (puts.length >= allowed) throw new Error(`injected crash before writing ${key}`);
    puts.push(key);
  };
  return {
    puts,
    get: (key) => store.get(key),
    stream: (key) => store.stream(key),
    head: (key) => store.head(key),
    copy: (from, to) => store.copy(from, to),
    delete: (keys) => store.delete(keys),
    list: (prefix) => store.list(prefix),
    async put(key, body, options) {
      write(key);
      await store.put(key, body, options);
    },
    async putStream(key, body, options) {
      write(key);
      await store.putStream(key, body, options);
    },
    async putWithPrefix(key, prefix, source, options) {
      write(key);
      await store.putWithPrefix(key, prefix, source, options);
    },
  };
}

function copyOf(store: MemoryObjectStore): MemoryObjectStore {
  const copy = new MemoryObjectStore();
  for (const [key, value] of store.objects) copy.objects.set(key, Buffer.from(value));
  return copy;
}

/** Serves a store's keys as static files, as a bucket behind plain HTTP would. */
async function serveStatically(current: () => ObjectStore): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const key = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname).slice(1);
    current()
      .get(key)
      .then((body) => (body === undefined ? res.writeHead(404).end() : res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body)))
      .catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe('mirrors in the bucket are clonable by stock git over dumb HTTP, even after a sync that crashed halfway', () => {
  let root: string;
  let primary: GitServer;
  let dynamo: DynamoDBClient;
  let tableName: string;
  let work: string;
  let sequence = 0;
  let served: ObjectStore = new MemoryObjectStore();
  let http: { url: string; server: Server };

  const event = (): ChangeEvent => ({
    version: 1,
    eventId: `test:${sequence + 1}`,
    deliveryId: `delivery-${sequence + 1}`,
    source: 'gitlab',
    kind: 'push',
    repository,
    sequence: ++sequence,
    receivedAt: new Date(Date.now() - 60_000).toISOString(),
    changes: [],
  });

  /** A sync into `store`, with a registry of its own (its own replicable type) so runs do not see each other. */
  const sync = (store: ObjectStore, label: string) =>
    syncRepository(
      {
        registry: new Registry(DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } }), tableName, label),
        store,
        primary: new PrimaryRemote({ baseUrl: primary.url }),
        refNamespaces: ['refs/heads/', 'refs/tags/'],
        now: () => new Date(),
      },
      event(),
    );

  const cloneServed = async (name: string): Promise<Map<string, string>> => {
    const dir = join(root, name);
    await git(['clone', '-q', '--mirror', `${http.url}/${repository}.git`, dir]);
    await git(['fsck', '--full', '--strict'], { cwd: dir });
    return listRefs(dir);
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'git-geo-dumb-'));
    primary = await startGitServer({ root: join(root, 'primary') });
    await git(['init', '--bare', '-q', '-b', 'main', join(root, 'primary', `${repository}.git`)]);
    work = join(root, 'work');
    await git(['clone', '-q', `${primary.url}/${repository}.git`, work]);
    await commit(work, 3, 'base');
    await git(['checkout', '-q', '-b', 'doomed'], { cwd: work });
    await commit(work, 1, 'doomed');
    await git(['push', '-q', 'origin', 'main', 'doomed'], { cwd: work });
    await git(['checkout', '-q', 'main'], { cwd: work });
    dynamo = new DynamoDBClient(clientConfig('eu-west-1', process.env.AWS_ENDPOINT_URL));
    tableName = `git-geo-dumb-${randomBytes(4).toString('hex')}`;
    await createRegistryTable(dynamo, tableName);
    http = await serveStatically(() => served);
  });
  afterAll(async () => {
    http?.server.close();
    await dynamo?.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
    dynamo?.destroy();
    await primary?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('every crash point of an incremental sync leaves the old refs or the new ones, each complete; deleted refs disappear', async () => {
    const base = new MemoryObjectStore();
    await sync(base, 'git-base');
    served = base;
    const before = await cloneServed('before');
    expect(before.get('refs/heads/doomed')).toEqual(expect.stringMatching(/^[0-9a-f]{40}$/));
    expect(before).toEqual(await listRefs(`${primary.url}/${repository}.git`));

    // The next state: new commits, a new tag, and a deleted branch.
    await commit(work, 2, 'next');
    await git(['tag', '-a', 'v2.0.0', '-m', 'release 2'], { cwd: work });
    await git(['push', '-q', 'origin', 'main', 'v2.0.0', ':doomed'], { cwd: work });
    const after = await listRefs(`${primary.url}/${repository}.git`);
    expect(after.has('refs/heads/doomed')).toBe(false);

    // How many writes a whole sync makes, and in what order.
    const counting = failingAfter(copyOf(base), Number.MAX_SAFE_INTEGER);
    await sync(counting, 'git-count');
    const writes = counting.puts.map((key) => key.slice(`${repository}.git/`.length));
    expect(writes.slice(0, 2)).toEqual([expect.stringMatching(/^objects\/pack\/pack-[0-9a-f]{40}\.pack$/), expect.stringMatching(/\.idx$/)]);
    expect(writes.indexOf('objects/info/packs')).toBeLessThan(writes.indexOf('info/refs'));

    const seen = new Set<string>();
    for (let allowed = 0; allowed < counting.puts.length; allowed++) {
      const store = copyOf(base);
      await expect(sync(failingAfter(store, allowed), `git-crash-${allowed}`)).rejects.toThrow(/injected crash/);
      served = store;
      const refs = await cloneServed(`crash-${allowed}`);
      // Whole before, or whole after: never a ref whose objects are missing (fsck passed).
      const state = JSON.stringify([...refs]) === JSON.stringify([...before]) ? 'before' : JSON.stringify([...refs]) === JSON.stringify([...after]) ? 'after' : 'mixed';
      expect({ allowed, state }).not.toEqual({ allowed, state: 'mixed' });
      seen.add(state);

      // The retry completes it.
      await sync(store, `git-crash-${allowed}`);
      expect(await cloneServed(`retried-${allowed}`)).toEqual(after);
    }
    // info/refs is the last write of this sync, so every crash before it still shows the old state.
    expect(writes.at(-1)).toBe('info/refs');
    expect(seen).toEqual(new Set(['before']));

    served = counting;
    const infoRefs = (await counting.get(`${repository}.git/info/refs`))!.toString();
    expect(infoRefs).not.toContain('refs/heads/doomed');
    expect(infoRefs).toContain('refs/tags/v2.0.0^{}');
    expect(await cloneServed('complete')).toEqual(after);
  });
});
