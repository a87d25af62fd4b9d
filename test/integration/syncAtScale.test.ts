import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadMirror } from '../../bin/local/downloadMirror.ts';
import { git } from '../../bin/local/git.ts';
import { isPackFetch } from '../../bin/local/startGitServer.ts';
import { verifySnapshot } from '../../bin/ops/verifySnapshot.ts';
import { collectGarbage } from '../../lambdas/backup/collectGarbage.ts';
import { takeSnapshot } from '../../lambdas/backup/takeSnapshot.ts';
import { MirrorRepository } from '../../lambdas/shared/git/MirrorRepository.ts';
import { PackIndex } from '../../lambdas/shared/git/pack/PackIndex.ts';
import { encodePktLine } from '../../lambdas/shared/git/pktLine.ts';
import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { verifyMirror } from '../../lambdas/shared/git/verifyMirror.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { syncRepository, type SyncOutcome } from '../../lambdas/sync/syncRepository.ts';
import { commit } from '../helpers/testRuntime.ts';
import { primaryRepository, startSyncHarness, type SyncHarness } from '../helpers/syncHarness.ts';

type ProxyMode = 'pass' | 'no-v2' | 'inject-bad-refs';

/**
 * A Git host in front of the harness primary: `no-v2` drops `Git-Protocol` (a host without v2);
 * `inject-bad-refs` adds refs with a newline and a tab in their names to every `ls-refs` answer.
 */
async function startProxy(target: string, mode: () => ProxyMode, injectedOid: () => string): Promise<{ url: string; server: Server; sawV2: string[] }> {
  const sawV2: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string' && name !== 'host' && name !== 'content-length') headers[name] = value;
        if (mode() === 'no-v2') delete headers['git-protocol'];
        if (headers['git-protocol'] !== undefined) sawV2.push(req.url ?? '');
        const answer = await fetch(`${target}${req.url}`, { method: req.method, headers, body: req.method === 'POST' ? body : undefined });
        let payload = Buffer.from(await answer.arrayBuffer());
        if (mode() === 'inject-bad-refs' && body.includes('command=ls-refs') && payload.subarray(-4).toString() === '0000') {
          const oid = injectedOid();
          const evil = [`${oid} refs/heads/evil\nrefs/heads/injected\n`, `${oid} refs/heads/tab\tname\n`].map((line) => encodePktLine(line));
          payload = Buffer.concat([payload.subarray(0, -4), ...evil, payload.subarray(-4)]);
        }
        res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/octet-stream' }).end(payload);
      })().catch((error: unknown) => res.writeHead(502).end(String(error)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, sawV2 };
}

describe('sync at scale: spooled packs, v2 ref-prefix discovery, refused ref names, resumption, pack maintenance', () => {
  let harness: SyncHarness;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  let proxyMode: ProxyMode = 'pass';
  let injectedOid = '';

  beforeAll(async () => {
    harness = await startSyncHarness();
    proxy = await startProxy(harness.primary.url, () => proxyMode, () => injectedOid);
  });
  afterAll(async () => {
    await new Promise((resolve) => proxy?.server.close(resolve));
    await harness?.stop();
  });

  const rev = async (work: string, what: string): Promise<string> => (await git(['rev-parse', what], { cwd: work })).trim();

  async function checkWithGit(path: RepositoryPath): Promise<string> {
    const dir = await downloadMirror(harness.s3, path, await mkdtemp(join(harness.root, 'download-')));
    await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: dir });
    return dir;
  }

  it('lists only the mirrored namespaces over protocol v2 (ref-prefix), and falls back to v0 on a host without v2', async () => {
    const path = parseRepositoryPath('scale/many-refs');
    const work = await primaryRepository(harness, path);
    await commit(work, 3, 'base');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    // 400 refs outside the mirrored namespaces, as a host's pull-request refs would be.
    const main = await rev(work, 'HEAD');
    const gitDir = join(harness.root, 'primary', `${path}.git`);
    const pulls = Array.from({ length: 400 }, (_, n) => `refs/pull/${n}/head`).sort();
    await writeFile(join(gitDir, 'packed-refs'), `# pack-refs with: peeled fully-peeled \n${pulls.map((name) => `${main} ${name}\n`).join('')}`);

    const mark = harness.primary.requests.length;
    expect(await syncRepository(harness.deps(), harness.event(path, 1))).toMatchObject({ kind: 'synced', refCount: 1 });
    const discovery = harness.primary.requests.slice(mark).filter((request) => request.path.endsWith('/info/refs') || request.command === 'ls-refs');
    expect(discovery.map((request) => request.command ?? 'info/refs')).toEqual(['info/refs', 'ls-refs']);
    const v2Bytes = discovery.reduce((sum, request) => sum + request.bytes, 0);
    const v0Bytes = (await (await fetch(`${harness.primary.url}/${path}.git/info/refs?service=git-upload-pack`)).arrayBuffer()).byteLength;
    // The whole advertisement names 401 refs; the v2 answers name HEAD and main only.
    expect(v0Bytes).toBeGreaterThan(20_000);
    expect(v2Bytes).toBeLessThan(1000);
    expect(harness.primary.requests.slice(mark).filter(isPackFetch).every((request) => request.command === 'fetch')).toBe(true);

    // A host without v2: the same sync over v0, every ref compared by git.
    proxyMode = 'no-v2';
    const viaProxy = harness.deps({ primary: new PrimaryRemote({ baseUrl: proxy.url, userAgent: 'git-geo', timeoutMs: 10_000 }) });
    const fallbackPath = parseRepositoryPath('scale/no-v2');
    const fallbackWork = await primaryRepository(harness, fallbackPath);
    await commit(fallbackWork, 4, 'v0');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: fallbackWork });
    const before = harness.primary.requests.length;
    expect(await syncRepository(viaProxy, harness.event(fallbackPath, 1))).toMatchObject({ kind: 'synced', refCount: 1, changed: true });
    expect(harness.primary.requests.slice(before).some((request) => request.command !== undefined)).toBe(false);
    const dir = await checkWithGit(fallbackPath);
    expect(await git(['rev-parse', 'refs/heads/main'], { cwd: dir })).toBe(await git(['rev-parse', 'HEAD'], { cwd: fallbackWork }));
    proxyMode = 'pass';
  });

  it('refuses refs whose names git refuses: reported in the registry, never stored, the rest synced', async () => {
    const path = parseRepositoryPath('scale/bad-names');
    const work = await primaryRepository(harness, path);
    await commit(work, 2, 'names');
    await git(['push', '-q', 'origin', 'HEAD:main', 'HEAD:refs/heads/good'], { cwd: work });
    injectedOid = await rev(work, 'HEAD');
    proxyMode = 'inject-bad-refs';
    const viaProxy = harness.deps({ primary: new PrimaryRemote({ baseUrl: proxy.url, userAgent: 'git-geo', timeoutMs: 10_000 }) });
    const outcome = await syncRepository(viaProxy, harness.event(path, 1));
    proxyMode = 'pass';
    expect(outcome).toMatchObject({ kind: 'synced', refCount: 2 });
    const refused = outcome.kind === 'synced' ? outcome.refusedRefs : undefined;
    expect(refused?.map((ref) => ref.name)).toEqual(['refs/heads/evil\\nrefs/heads/injected', 'refs/heads/tab\\tname']);
    const state = await harness.registry.get(path);
    expect(state?.refusedRefs?.map((ref) => ref.name)).toEqual(['refs/heads/evil\\nrefs/heads/injected', 'refs/heads/tab\\tname']);
    for (const file of ['info/refs', 'packed-refs']) {
      const text = (await harness.s3.get(`${path}.git/${file}`))!.toString('utf8');
      expect(text).not.toMatch(/evil|injected|tab/);
      expect(text).toMatch(/refs\/heads\/good/);
    }
    const dir = await checkWithGit(path);
    expect((await git(['for-each-ref', '--format=%(refname)'], { cwd: dir })).trim().split('\n')).toEqual(['refs/heads/good', 'refs/heads/main']);
    // A later sync that finds no bad name clears the report.
    await commit(work, 1, 'more');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    await syncRepository(harness.deps(), harness.event(path, 2));
    expect((await harness.registry.get(path))?.refusedRefs).toBeUndefined();
  });

  it('a sync that stored its pack but died before its refs is resumed without fetching that pack again', async () => {
    const path = parseRepositoryPath('scale/resume');
    const work = await primaryRepository(harness, path);
    await commit(work, 5, 'first');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    await syncRepository(harness.deps(), harness.event(path, 1));
    await commit(work, 20, 'big');
    await git(['push', '-q', 'origin', 'HEAD:main', 'HEAD:refs/heads/feature'], { cwd: work });
    // Killed after the pack, its index and the pack list (with the pack's tips), before the refs.
    harness.store.crashed = false;
    harness.store.crashAt = (operation, key) => operation === 'put' && key === `${path}.git/packed-refs`;
    await expect(syncRepository(harness.deps(), harness.event(path, 2))).rejects.toThrow(/injected crash/);
    harness.store.crashAt = undefined;
    const stranded = await new MirrorRepository(harness.s3, path).readState();
    expect(stranded?.packs).toHaveLength(2);
    const storedPack = stranded!.packs[1]!;
    const storedBytes = (await harness.s3.head(`${path}.git/objects/pack/${storedPack}.pack`))!.size;

    // Nothing new on the primary: the retry publishes the stored pack's refs without any fetch.
    const mark = harness.primary.requests.length;
    expect(await syncRepository(harness.deps(), harness.event(path, 3))).toMatchObject({ kind: 'synced', fetchedBytes: 0 });
    expect(harness.primary.requests.slice(mark).filter(isPackFetch)).toHaveLength(0);

    // The same crash again, then one more commit: the retry fetches that commit's objects only.
    await commit(work, 15, 'again');
    const beforeLast = await rev(work, 'HEAD');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    harness.store.crashed = false;
    harness.store.crashAt = (operation, key) => operation === 'put' && key === `${path}.git/packed-refs`;
    await expect(syncRepository(harness.deps(), harness.event(path, 4))).rejects.toThrow(/injected crash/);
    harness.store.crashAt = undefined;
    await commit(work, 1, 'last');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    const outcome = await syncRepository(harness.deps(), harness.event(path, 5));
    const newest = (await new MirrorRepository(harness.s3, path).readState())!.packs.at(-1)!;
    const objects = new PackIndex((await harness.s3.get(`${path}.git/objects/pack/${newest}.idx`))!).count;
    expect(objects).toBe(Number((await git(['rev-list', '--objects', '--count', 'HEAD', `^${beforeLast}`], { cwd: work })).trim()));
    expect(outcome.kind === 'synced' && outcome.fetchedBytes).toBeLessThan(storedBytes);
    const dir = await checkWithGit(path);
    expect(await git(['rev-parse', 'refs/heads/main'], { cwd: dir })).toBe(await git(['rev-parse', 'HEAD'], { cwd: work }));
    // No spool file is left behind by the native engine.
    expect((await readdir(harness.spoolDir)).filter((name) => /^git-geo-(fetch|repack)-/.test(name))).toEqual([]);
  });

  it('repacks geometrically under concurrent reads and syncs: every read is a whole repository, snapshots stay restorable', async () => {
    const path = parseRepositoryPath('scale/repack');
    const work = await primaryRepository(harness, path);
    await commit(work, 10, 'seed');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    const policy = { packMaintenance: { minPacks: 3, factor: 2 } };
    await syncRepository(harness.deps(policy), harness.event(path, 1));
    const { manifest: snapshot, complete } = await takeSnapshot({ store: harness.s3, registry: harness.registry, region: 'eu-west-1', now: () => new Date() });
    expect(complete).toBe(true);
    expect(snapshot.repositories.find((entry) => entry.repository === path)?.packs).toHaveLength(1);

    // A reader as git's dumb-HTTP client reads: refs, then the pack list, then each listed index.
    let reading = true;
    let reads = 0;
    const problems: string[] = [];
    const reader = (async () => {
      while (reading) {
        const infoRefs = (await harness.s3.get(`${path}.git/info/refs`))?.toString('utf8') ?? '';
        const tips = new Set(infoRefs.split('\n').filter(Boolean).map((line) => line.split('\t')[0]!));
        const listed = (await new MirrorRepository(harness.s3, path).readState())?.packs ?? [];
        const present = new Set<string>();
        for (const name of listed) {
          const idx = await harness.s3.get(`${path}.git/objects/pack/${name}.idx`);
          const pack = await harness.s3.head(`${path}.git/objects/pack/${name}.pack`);
          if (idx === undefined || pack === undefined) {
            problems.push(`${name} is listed but missing`);
            continue;
          }
          const index = new PackIndex(idx);
          for (let i = 0; i < index.count; i++) present.add(index.oidAt(i).toString('hex'));
        }
        for (const tip of tips) if (!present.has(tip)) problems.push(`ref tip ${tip} is in no listed pack`);
        reads++;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    const outcomes: SyncOutcome[] = [];
    let mostPacks = 0;
    for (let sync = 2; sync <= 14; sync++) {
      await commit(work, 1, `change ${sync}`);
      await git(['push', '-q', 'origin', 'HEAD:main', ...(sync % 5 === 0 ? [`HEAD:refs/tags/t${sync}`] : [])], { cwd: work });
      outcomes.push(await syncRepository(harness.deps(policy), harness.event(path, sync)));
      mostPacks = Math.max(mostPacks, (await new MirrorRepository(harness.s3, path).readState())!.packs.length);
    }
    reading = false;
    await reader;
    expect(problems).toEqual([]);
    expect(reads).toBeGreaterThan(5);
    // 14 fetching syncs; without repacking there would be 14 packs.
    expect(outcomes.filter((outcome) => outcome.kind === 'synced' && (outcome.repacked ?? 0) > 0).length).toBeGreaterThan(2);
    expect(mostPacks).toBeLessThanOrEqual(3 + Math.ceil(Math.log2(14)));
    const dir = await checkWithGit(path);
    expect(await git(['rev-parse', 'refs/heads/main'], { cwd: dir })).toBe(await git(['rev-parse', 'HEAD'], { cwd: work }));
    expect(await verifyMirror(harness.s3, path, { deep: true })).toMatchObject({ ok: true });

    // The collector keeps every pack the snapshot names (merged away since), and the snapshot restores whole.
    const collected = await collectGarbage({ store: harness.s3, retention: { hourlyForHours: 24, dailyForDays: 30 }, now: () => new Date(), graceSeconds: 0 });
    expect(collected.packsDeleted.some((key) => key.startsWith(`${path}.git/`))).toBe(true);
    const verified = await verifySnapshot({ store: harness.s3, manifest: snapshot, scratch: await mkdtemp(join(harness.root, 'restore-')), repositories: [path] });
    expect(verified).toMatchObject({ ok: true, repositories: [{ repository: path, ok: true }] });
    expect(await verifyMirror(harness.s3, path, { deep: true })).toMatchObject({ ok: true });
  });
});
