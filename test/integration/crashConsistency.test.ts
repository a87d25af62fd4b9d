import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadMirror } from '../../bin/local/downloadMirror.ts';
import { git, listRefs } from '../../bin/local/git.ts';
import { LeaseHeldError } from '../../lambdas/shared/errors/index.ts';
import { mirrorPrefix } from '../../lambdas/shared/git/MirrorRepository.ts';
import type { Registry } from '../../lambdas/shared/registry/Registry.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { SyncFailedError } from '../../lambdas/sync/SyncFailedError.ts';
import { syncRepository } from '../../lambdas/sync/syncRepository.ts';
import { commit } from '../helpers/testRuntime.ts';
import { InjectedCrash, primaryRepository, startSyncHarness, type SyncHarness } from '../helpers/syncHarness.ts';
import { isPackFetch } from '../../bin/local/startGitServer.ts';

interface Refs {
  readonly head: string;
  readonly refs: Map<string, string>;
}

/** What a reader sees after downloading the mirror: HEAD, the refs (packed-refs) and the dumb-HTTP refs (info/refs). */
interface MirrorView {
  readonly head: string;
  readonly packedRefs: Map<string, string>;
  readonly infoRefs: Map<string, string>;
}

describe('crash consistency: a sync killed at any step leaves a readable mirror with the old or the new refs', () => {
  let harness: SyncHarness;

  beforeAll(async () => {
    harness = await startSyncHarness();
  });
  afterAll(async () => {
    await harness?.stop();
  });

  async function primaryRefs(path: string): Promise<Refs> {
    const all = await listRefs(`${harness.primary.url}/${path}.git`);
    const head = all.get('HEAD') ?? '';
    all.delete('HEAD');
    return { head, refs: all };
  }

  /**
   * Downloads the mirror, runs `git fsck --full --strict` on it as it is, and checks that every
   * object id in packed-refs and info/refs is present: no ref may point at a missing object.
   */
  async function readMirror(path: RepositoryPath): Promise<MirrorView> {
    const dir = await downloadMirror(harness.s3, path, await mkdtemp(join(harness.root, 'download-')));
    await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: dir });
    const packedRefs = await listRefs(dir);
    packedRefs.delete('HEAD');
    const infoRefs = new Map<string, string>();
    for (const line of (await readFile(join(dir, 'info', 'refs'), 'utf8')).split('\n')) {
      const [oid, name] = line.split('\t');
      if (oid && name && !name.endsWith('^{}')) infoRefs.set(name, oid);
    }
    for (const oid of new Set([...packedRefs.values(), ...infoRefs.values()])) await git(['cat-file', '-e', oid], { cwd: dir });
    const head = (await readFile(join(dir, 'HEAD'), 'utf8')).trim().replace(/^ref: /, '');
    return { head, packedRefs, infoRefs };
  }

  const same = (a: Map<string, string>, b: Map<string, string>): boolean => a.size === b.size && [...a].every(([name, oid]) => b.get(name) === oid);

  /** A repository mirrored at state A, then changed on the primary to state B (new commits, branch, annotated tag, deleted tag, new HEAD). */
  async function oldAndNew(path: RepositoryPath): Promise<{ before: Refs; after: Refs }> {
    const work = await primaryRepository(harness, path);
    await commit(work, 3, 'a');
    await git(['tag', 'old-tag'], { cwd: work });
    await git(['push', '-q', 'origin', 'HEAD:main', 'old-tag'], { cwd: work });
    await syncRepository(harness.deps(), harness.event(path, 1));
    const before = await primaryRefs(path);
    await commit(work, 2, 'b');
    await git(['tag', '-a', 'v2', '-m', 'two'], { cwd: work });
    await git(['push', '-q', 'origin', 'HEAD:main', 'HEAD:refs/heads/next', 'v2', ':refs/tags/old-tag'], { cwd: work });
    await git(['symbolic-ref', 'HEAD', 'refs/heads/next'], { cwd: join(harness.root, 'primary', `${path}.git`) });
    const after = await primaryRefs(path);
    expect(after.head).toBe('refs/heads/next');
    return { before, after };
  }

  const crashPoints: [string, (operation: string, key: string) => boolean, 'old' | 'new' | 'either'][] = [
    ['after the pack upload, before its index', (operation, key) => operation === 'put' && key.endsWith('.idx'), 'old'],
    ['after the index, before the pack list', (operation, key) => operation === 'put' && key.endsWith('objects/info/packs'), 'old'],
    ['after the pack list, before the refs', (operation, key) => operation === 'put' && key.endsWith('/packed-refs'), 'old'],
    ['between packed-refs and info/refs', (operation, key) => operation === 'put' && key.endsWith('/info/refs'), 'either'],
    ['after the refs, before HEAD', (operation, key) => operation === 'put' && key.endsWith('/HEAD'), 'new'],
  ];

  it.each(crashPoints)('killed %s: the old or the new refs, every object present; the next attempt completes it', async (label, crashAt, expected) => {
    const path = parseRepositoryPath(`crash/${label.replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '')}`);
    const { before, after } = await oldAndNew(path);
    harness.store.crashed = false;
    harness.store.crashAt = crashAt;
    let failure: unknown;
    try {
      await syncRepository(harness.deps(), harness.event(path, 2));
    } catch (error) {
      failure = error;
    } finally {
      harness.store.crashAt = undefined;
    }
    expect(failure).toBeInstanceOf(SyncFailedError);
    expect((failure as SyncFailedError).cause).toBeInstanceOf(InjectedCrash);
    expect(harness.store.crashed).toBe(true);

    const view = await readMirror(path);
    const isOld = same(view.packedRefs, before.refs);
    const isNew = same(view.packedRefs, after.refs);
    expect(isOld || isNew).toBe(true);
    expect(same(view.infoRefs, before.refs) || same(view.infoRefs, after.refs)).toBe(true);
    // HEAD is written last of all: every crash point comes before it.
    expect(view.head).toBe(before.head);
    if (expected === 'old') expect(isOld && same(view.infoRefs, before.refs) && view.head === before.head).toBe(true);
    if (expected === 'new') expect(isNew && same(view.infoRefs, after.refs)).toBe(true);
    // The registry says what happened: a retryable failure, with the next attempt scheduled.
    const failed = await harness.registry.get(path);
    expect(failed).toMatchObject({ status: 'failed', lastError: { retryable: true } });
    expect(failed?.nextAttemptAt).toBeDefined();

    const retried = await syncRepository(harness.deps(), harness.event(path, 3));
    expect(retried.kind).toBe('synced');
    const healed = await readMirror(path);
    expect(healed.head).toBe(after.head);
    expect(same(healed.packedRefs, after.refs)).toBe(true);
    expect(same(healed.infoRefs, after.refs)).toBe(true);
    expect(await harness.registry.get(path)).toMatchObject({ status: 'synced', attempts: 0, syncedSequence: 3 });
  });

  it('killed after every write but before the registry: the mirror is new; the next attempt records it without fetching', async () => {
    const path = parseRepositoryPath('crash/before-registry');
    const { after } = await oldAndNew(path);
    const registry = harness.registry;
    const crashing = Object.create(registry) as Registry;
    crashing.recordSynced = () => Promise.reject(new InjectedCrash('injected crash before the registry write'));
    await expect(syncRepository(harness.deps({ registry: crashing }), harness.event(path, 2))).rejects.toBeInstanceOf(SyncFailedError);
    const view = await readMirror(path);
    expect(same(view.packedRefs, after.refs) && view.head === after.head).toBe(true);
    const fetches = harness.primary.requests.filter((request) => isPackFetch(request) && request.path === `/${path}.git/git-upload-pack`).length;
    expect(await syncRepository(harness.deps(), harness.event(path, 3))).toMatchObject({ kind: 'synced', changed: false, fetchedBytes: 0 });
    expect(harness.primary.requests.filter((request) => isPackFetch(request) && request.path === `/${path}.git/git-upload-pack`)).toHaveLength(fetches);
  });

  it('a sync that died holding the lease blocks others only until the lease runs out', async () => {
    const path = parseRepositoryPath('crash/held-lease');
    const work = await primaryRepository(harness, path);
    await commit(work, 1, 'lease');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    // A sync that took the lease and then vanished (the process was killed): nothing releases it.
    const until = new Date(Date.now() + 1500).toISOString();
    await harness.registry.recordStarted(path, { sequence: 1, receivedAt: new Date().toISOString() }, new Date().toISOString(), { owner: 'killed-sync', until });
    const blocked = await syncRepository(harness.deps(), harness.event(path, 2)).catch((error: unknown) => error);
    expect(blocked).toBeInstanceOf(LeaseHeldError);
    expect((blocked as LeaseHeldError).retryInSeconds).toBeGreaterThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expect(await syncRepository(harness.deps(), harness.event(path, 3))).toMatchObject({ kind: 'synced' });
  });

  it('a rename killed halfway through the copy: the old mirror is intact, and the retry completes the move', async () => {
    const from = parseRepositoryPath('crash/moving-from');
    const to = parseRepositoryPath('crash/moving-to');
    const work = await primaryRepository(harness, from);
    await commit(work, 2, 'move');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    await syncRepository(harness.deps(), harness.event(from, 1));
    const refs = await primaryRefs(from);
    await rename(join(harness.root, 'primary', `${from}.git`), join(harness.root, 'primary', `${to}.git`));
    let copies = 0;
    harness.store.crashed = false;
    harness.store.crashAt = (operation) => operation === 'copy' && ++copies === 3;
    const renamed = harness.event(to, 1, { kind: 'repository.renamed', previousRepository: from });
    await expect(syncRepository(harness.deps(), renamed)).rejects.toBeInstanceOf(SyncFailedError);
    harness.store.crashAt = undefined;
    // Nothing was deleted yet: the old mirror still reads; the new path has no refs yet.
    const old = await readMirror(from);
    expect(same(old.packedRefs, refs.refs)).toBe(true);
    expect(await harness.s3.get(`${mirrorPrefix(to)}info/refs`)).toBeUndefined();
    const uploadPacks = harness.primary.requests.filter((request) => isPackFetch(request)).length;
    expect(await syncRepository(harness.deps(), renamed)).toMatchObject({ kind: 'synced', movedFrom: from, fetchedBytes: 0 });
    expect(same((await readMirror(to)).packedRefs, refs.refs)).toBe(true);
    expect(await harness.registry.get(from)).toMatchObject({ status: 'deleted', movedTo: to });
    const left: string[] = [];
    for await (const object of harness.s3.list(mirrorPrefix(from))) left.push(object.key);
    expect(left).toEqual([]);
    expect(harness.primary.requests.filter((request) => isPackFetch(request))).toHaveLength(uploadPacks);
  });

  it("deletedRepositories 'remove': the mirror is deleted, no tombstone, and the registry says deleted", async () => {
    const path = parseRepositoryPath('crash/removed');
    const work = await primaryRepository(harness, path);
    await commit(work, 1, 'remove');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    await syncRepository(harness.deps(), harness.event(path, 1));
    await rename(join(harness.root, 'primary', `${path}.git`), join(harness.root, 'gone.git'));
    expect(await syncRepository(harness.deps({ deletedRepositories: 'remove' }), harness.event(path, 2, { kind: 'repository.deleted' }))).toEqual({ kind: 'deleted', tombstone: undefined });
    const left: string[] = [];
    for await (const object of harness.s3.list(mirrorPrefix(path))) left.push(object.key);
    for await (const object of harness.s3.list('.git-geo/')) if (object.key.includes(path)) left.push(object.key);
    expect(left).toEqual([]);
    expect(await harness.registry.get(path)).toMatchObject({ status: 'deleted', deletedSequence: 2 });
  });
});
