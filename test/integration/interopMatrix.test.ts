import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import isogit from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { git, listRefs } from '../../bin/local/git.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { pushAndConverge } from '../helpers/pushAndConverge.ts';
import { openRepository, primaryUploadPacks } from '../helpers/regionReads.ts';
import { startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const execFileAsync = promisify(execFile);
const PYTHON_CLIENTS = join(import.meta.dirname, '../fixtures/interop/pythonClients.py');

/** dulwich or pygit2 (Debian's python3 packages) run one operation; answers the refs they ended with. */
async function python(lib: 'dulwich' | 'pygit2', args: readonly string[]): Promise<Record<string, string>> {
  const { stdout } = await execFileAsync('/usr/bin/python3', [PYTHON_CLIENTS, lib, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as Record<string, string>;
}

/** Heads and tags of a primary's refs, named as a client's remote-tracking refs. */
function asRemoteTracking(refs: ReadonlyMap<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, oid] of refs) {
    if (name.startsWith('refs/heads/') && name !== 'HEAD') out[`refs/remotes/origin/${name.slice(11)}`] = oid;
    else if (name.startsWith('refs/tags/')) out[name] = oid;
  }
  return out;
}

/** The refs `keep` accepts; a remote's HEAD (a symbolic ref some clients write and some do not) never. */
function pick(refs: Record<string, string>, keep: (name: string) => boolean): Record<string, string> {
  return Object.fromEntries(Object.entries(refs).filter(([name]) => keep(name) && !name.endsWith('/HEAD')));
}

/** What a clone holds that must match the primary's answer to the same operation. */
async function cloneState(dir: string): Promise<{ refs: string; commits: string; shallow: string }> {
  const refs = await git(['for-each-ref', '--format=%(objectname) %(refname)'], { cwd: dir });
  const commits = await git(['rev-list', '--all', '--topo-order'], { cwd: dir });
  const gitDir = (await git(['rev-parse', '--absolute-git-dir'], { cwd: dir })).trim();
  const shallow = await readFile(join(gitDir, 'shallow'), 'utf8').then(
    (text) => text.split('\n').filter(Boolean).sort().join('\n'),
    () => '',
  );
  return { refs, commits, shallow };
}

/**
 * The interop matrix: stock git over protocol v0, v1 and v2, isomorphic-git, dulwich and
 * libgit2 (pygit2) against a region, each operation checked against the same operation on the
 * primary (refs, history, shallow boundary) and `git fsck`. One runtime, one small repository.
 */
describe('interop matrix: every client, every fetch, region against primary', () => {
  let bed: TestBed;
  let region: string;
  let primary: string;
  let work: string;
  let oldCommit: string;
  let since: number;
  const repository = parseRepositoryPath('interop/app');
  let clones = 0;
  /** Clones made by each client, fetched into again after new pushes: [client, region clone, primary clone]. */
  const kept: { client: string; fetch: (dir: string, url: string) => Promise<unknown>; region: string; primary: string }[] = [];
  const fresh = (label: string): string => join(bed.root, `${label}-${clones++}`);

  const push = (args: readonly string[]): Promise<void> => pushAndConverge(bed, work, repository, args);

  /** Runs a client operation against the region and checks the primary served no upload-pack for it. */
  async function regionOnly<T>(operation: () => Promise<T>): Promise<T> {
    const mark = bed.primary.requests.length;
    const result = await operation();
    expect({ operation: operation.toString(), primaryAsked: primaryUploadPacks(bed, repository, mark) }).toEqual({ operation: operation.toString(), primaryAsked: [] });
    return result;
  }

  /** Commits with fixed, increasing dates (for --shallow-since), one file each, one of them large. */
  async function dated(count: number, label: string, day: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const date = `${1_600_000_000 + (day + i) * 86_400} +0000`;
      await writeFile(join(work, `${label}-${i}.txt`), i === 1 ? 'x'.repeat(40_000) + label : `${label} ${i}\n`);
      await git(['add', '.'], { cwd: work });
      await git(['commit', '-q', '-m', `${label} ${i}`], { cwd: work, env: { GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: date } });
    }
  }

  beforeAll(async () => {
    bed = await startTestBed();
    ({ url: region, primaryUrl: primary, work } = await openRepository(bed, repository));
    await dated(4, 'base', 0);
    oldCommit = (await git(['rev-parse', 'HEAD~2'], { cwd: work })).trim();
    await git(['tag', '-a', 'v1', '-m', 'release 1'], { cwd: work, env: { GIT_COMMITTER_DATE: `${1_600_000_000 + 4 * 86_400} +0000` } });
    await git(['checkout', '-q', '-b', 'feature'], { cwd: work });
    await dated(3, 'feature', 10);
    await git(['checkout', '-q', 'main'], { cwd: work });
    await dated(3, 'more', 20);
    since = 1_600_000_000 + 21 * 86_400;
    await push(['main', 'feature', '--tags']);
  }, 300_000);
  afterAll(async () => {
    await bed?.stop();
  });

  for (const version of [0, 1, 2] as const) {
    const v = ['-c', `protocol.version=${version}`];
    describe(`stock git, protocol.version=${version}`, () => {
      it('full clone, --depth 1, deepen, --unshallow, --single-branch, shallow-since/exclude, ls-remote: as from the primary, and the primary is not asked', async () => {
        const pairs: [string, string][] = [];
        const both = async (args: readonly string[], label: string): Promise<[string, string]> => {
          const [r, p] = [fresh(`${label}-r`), fresh(`${label}-p`)];
          await regionOnly(() => git([...v, 'clone', '-q', ...args, region, r]));
          await git([...v, 'clone', '-q', ...args, primary, p]);
          pairs.push([r, p]);
          return [r, p];
        };
        const [bareR, bareP] = await both(['--bare'], 'bare');
        kept.push({ client: `git v${version}`, fetch: (dir, url) => git([...v, 'fetch', '-q', url, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'], { cwd: dir }), region: bareR, primary: bareP });
        const [shallowR, shallowP] = await both(['--depth', '1'], 'depth1');
        expect((await git(['rev-list', '--count', 'HEAD'], { cwd: shallowR })).trim()).toBe('1');
        // v1 is v0 with a version line: the negotiation is the same, checked once (under v0).
        if (version !== 1) {
          await both(['--single-branch', '--branch', 'feature'], 'single');
          await both(['--shallow-since', String(since)], 'since');
          await both(['--shallow-exclude', 'feature', '--branch', 'main', '--single-branch'], 'exclude');
        }
        for (const [r, p] of pairs) {
          expect(await cloneState(r)).toEqual(await cloneState(p));
          await git(['fsck', '--strict'], { cwd: r });
        }
        // Deepen, then unshallow, both ways.
        for (const args of [['--deepen', '2'], ['--depth', '3'], ['--unshallow']]) {
          await regionOnly(() => git([...v, 'fetch', '-q', ...args], { cwd: shallowR }));
          await git([...v, 'fetch', '-q', ...args], { cwd: shallowP });
          expect(await cloneState(shallowR)).toEqual(await cloneState(shallowP));
        }
        await git(['fsck', '--strict'], { cwd: shallowR });
        expect(await regionOnly(() => git([...v, 'ls-remote', region]))).toBe(await git([...v, 'ls-remote', primary]));
      });

      it('fetch of a commit that is not a ref tip, by id', async () => {
        const dir = fresh('byid');
        await git(['init', '-q', dir]);
        await regionOnly(() => git([...v, 'fetch', '-q', region, oldCommit], { cwd: dir }));
        expect((await git(['rev-parse', 'FETCH_HEAD'], { cwd: dir })).trim()).toBe(oldCommit);
        await git(['fsck', '--strict', oldCommit], { cwd: dir });
      });

      it('--filter=blob:none, then a checkout of an old commit fetches the missing blobs lazily', async () => {
        const dir = fresh('partial');
        await regionOnly(() => git([...v, 'clone', '-q', '--filter=blob:none', region, dir]));
        const missing = await git(['rev-list', '--objects', '--missing=print', '--all'], { cwd: dir });
        expect(missing).toMatch(/^\?[0-9a-f]{40}$/m);
        await regionOnly(() => git([...v, 'checkout', '-q', oldCommit], { cwd: dir }));
        expect(await readFile(join(dir, 'base-1.txt'), 'utf8')).toBe(await git(['show', `${oldCommit}:base-1.txt`], { cwd: join(bed.root, 'primary', `${repository}.git`) }));
        await git(['fsck'], { cwd: dir });
      });
    });
  }

  it('isomorphic-git: clone, --depth 1 then deepen, single branch, ls-remote', async () => {
    const primaryRefs = await listRefs(primary);
    const dir = fresh('iso');
    await isogit.clone({ fs, http, dir, url: region });
    expect(pick(await gitRefs(dir), (name) => name.startsWith('refs/remotes/origin/') || name.startsWith('refs/tags/'))).toEqual(
      pick(asRemoteTracking(primaryRefs), () => true),
    );
    await git(['fsck', '--strict'], { cwd: dir });
    const shallow = fresh('iso-shallow');
    await isogit.clone({ fs, http, dir: shallow, url: region, depth: 1, singleBranch: true });
    expect((await git(['rev-list', '--count', 'HEAD'], { cwd: shallow })).trim()).toBe('1');
    await isogit.fetch({ fs, http, dir: shallow, depth: 2, relative: true, singleBranch: true });
    expect((await git(['rev-list', '--count', 'HEAD'], { cwd: shallow })).trim()).toBe('3');
    await git(['fsck', '--strict'], { cwd: shallow });
    const primaryClone = fresh('iso-p');
    await isogit.clone({ fs, http, dir: primaryClone, url: primary });
    kept.push({ client: 'isomorphic-git', fetch: (cwd) => isogit.fetch({ fs, http, dir: cwd, tags: true }), region: dir, primary: primaryClone });
    const info = await isogit.getRemoteInfo2({ http, url: region, protocolVersion: 1 });
    expect(new Map((info.refs ?? []).filter((ref) => ref.ref !== 'HEAD').map((ref) => [ref.ref, ref.oid]))).toEqual(new Map([...primaryRefs].filter(([name]) => name !== 'HEAD')));
  });

  it('dulwich: clone, --depth 1, ls-remote', async () => {
    const primaryRefs = await listRefs(primary);
    const dir = fresh('dulwich');
    const refs = await python('dulwich', ['clone', region, dir]);
    const primaryClone = fresh('dulwich-p');
    await python('dulwich', ['clone', primary, primaryClone]);
    kept.push({ client: 'dulwich', fetch: (cwd) => python('dulwich', ['fetch', '', cwd]), region: dir, primary: primaryClone });
    expect(pick(refs, (name) => name.startsWith('refs/remotes/origin/') || name.startsWith('refs/tags/'))).toEqual(pick(asRemoteTracking(primaryRefs), () => true));
    await git(['fsck', '--strict'], { cwd: dir });
    const shallow = fresh('dulwich-shallow');
    await python('dulwich', ['clone', region, shallow, '--depth', '1']);
    expect((await git(['rev-list', '--count', 'HEAD'], { cwd: shallow })).trim()).toBe('1');
    await git(['fsck', '--strict'], { cwd: shallow });
    expect(await python('dulwich', ['ls-remote', region])).toEqual(await python('dulwich', ['ls-remote', primary]));
  });

  it('libgit2 (pygit2): clone, ls-remote', async () => {
    const primaryRefs = await listRefs(primary);
    const dir = fresh('pygit2');
    const refs = await python('pygit2', ['clone', region, dir]);
    const primaryClone = fresh('pygit2-p');
    await python('pygit2', ['clone', primary, primaryClone]);
    kept.push({ client: 'pygit2', fetch: (cwd) => python('pygit2', ['fetch', '', cwd]), region: dir, primary: primaryClone });
    expect(pick(refs, (name) => name.startsWith('refs/remotes/origin/') || name.startsWith('refs/tags/'))).toEqual(pick(asRemoteTracking(primaryRefs), () => true));
    await git(['fsck', '--strict'], { cwd: dir });
    expect(await python('pygit2', ['ls-remote', region, fresh('pygit2-ls')])).toEqual(await python('pygit2', ['ls-remote', primary, fresh('pygit2-ls')]));
  });

  it('every client fetches new pushes from the region as from the primary', async () => {
    expect(kept.map(({ client }) => client)).toEqual(['git v0', 'git v1', 'git v2', 'isomorphic-git', 'dulwich', 'pygit2']);
    await dated(2, 'later', 30);
    await git(['checkout', '-q', 'feature'], { cwd: work });
    await dated(1, 'later-feature', 31);
    await git(['checkout', '-q', 'main'], { cwd: work });
    await push(['main', 'feature']);
    const newMain = (await listRefs(primary)).get('refs/heads/main');
    for (const clone of kept) {
      await regionOnly(() => clone.fetch(clone.region, region));
      await clone.fetch(clone.primary, primary);
      expect({ client: clone.client, refs: await gitRefs(clone.region) }).toEqual({ client: clone.client, refs: await gitRefs(clone.primary) });
      expect(Object.values(await gitRefs(clone.region))).toContain(newMain);
      await git(['fsck', '--strict'], { cwd: clone.region });
    }
  });

  it('CI fetches never fail: refs the region does not mirror (refs/pull/*, refs/pipelines/*) and commits it does not hold yet come from the primary', async () => {
    await git(['push', '-q', 'origin', 'HEAD~1:refs/pull/1/merge', 'HEAD~2:refs/pipelines/7'], { cwd: work });
    // A commit pushed to the primary whose event the region has not seen yet.
    await git(['checkout', '-q', '-b', 'unreplicated'], { cwd: work });
    await dated(1, 'unreplicated', 40);
    const unreplicated = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    await git(['push', '-q', 'origin', 'unreplicated'], { cwd: work });
    await git(['checkout', '-q', 'main'], { cwd: work });
    const dir = fresh('ci');
    await git(['init', '-q', dir]);
    for (const ref of ['refs/pull/1/merge', 'refs/pipelines/7']) {
      const mark = bed.primary.requests.length;
      await git(['fetch', '-q', region, `+${ref}:refs/remotes/origin/${ref.slice(5)}`], { cwd: dir });
      expect((await git(['rev-parse', `refs/remotes/origin/${ref.slice(5)}`], { cwd: dir })).trim()).toBe((await listRefs(primary)).get(ref));
      // Answered by the primary through the region: the client never left the region's URL.
      expect(primaryUploadPacks(bed, repository, mark)).toContain('POST /interop/app.git/git-upload-pack');
    }
    // What the runners run (GitHub's actions/checkout, GitLab's runner), against the regional URL.
    const pullMerge = (await listRefs(primary)).get('refs/pull/1/merge')!;
    await regionOnly(() => git(['fetch', '-q', '--no-tags', '--prune', '--no-recurse-submodules', '--depth=1', region, `+${pullMerge}:refs/remotes/pull/1/merge`], { cwd: dir }));
    expect((await git(['rev-parse', 'refs/remotes/pull/1/merge'], { cwd: dir })).trim()).toBe(pullMerge);
    await git(['fetch', '-q', '--depth', '20', '--prune', region, '+refs/pipelines/7:refs/pipelines/7', '+refs/heads/main:refs/remotes/origin/main'], { cwd: dir });
    expect((await git(['rev-parse', 'refs/pipelines/7'], { cwd: dir })).trim()).toBe((await listRefs(primary)).get('refs/pipelines/7'));
    for (const v of ['0', '2']) {
      await git(['-c', `protocol.version=${v}`, 'fetch', '-q', region, unreplicated], { cwd: dir });
      expect((await git(['rev-parse', 'FETCH_HEAD'], { cwd: dir })).trim()).toBe(unreplicated);
    }
    await git(['fsck', '--strict'], { cwd: dir });
    // git's size probe before a big request: a lone flush, answered 200 (never a redirect git will not follow).
    for (const headers of [{}, { 'git-protocol': 'version=2' }] as Record<string, string>[]) {
      const probe = await fetch(`${region}/git-upload-pack`, { method: 'POST', body: '0000', headers: { 'content-type': 'application/x-git-upload-pack-request', ...headers } });
      expect(probe.status).toBe(200);
      expect(probe.headers.get('content-type')).toBe('application/x-git-upload-pack-result');
    }
    await bed.notifyPushes();
  });
});

async function gitRefs(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await git(['for-each-ref', '--format=%(objectname) %(refname)'], { cwd: dir })).split('\n')) {
    const [oid, name] = line.split(' ');
    if (oid && name) out[name] = oid;
  }
  return out;
}
