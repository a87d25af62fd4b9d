import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateRepository } from '../../bin/local/generateRepository.ts';
import { git, listRefs } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { eventually } from '../helpers/eventually.ts';
import { cloneMirror, expectMirrorsMatchPrimary, fetchesOf } from '../helpers/mirrorChecks.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { deliver, genericDelivery } from '../helpers/webhookSamples.ts';

describe('every kind of ref change reaches every region, checked with stock git', () => {
  let bed: TestBed;
  const repository = parseRepositoryPath('platform/refs');
  let work: string;

  beforeAll(async () => {
    bed = await startTestBed();
  });
  afterAll(async () => {
    await bed?.stop();
  });

  const stores = (): ReturnType<TestBed['runtime']['mirrors']>[] => Object.keys(bed.runtime.regions).map((region) => bed.runtime.mirrors(region));

  /** Sends the GitLab push hooks of every push so far, waits for every region, and compares each mirror with the primary. */
  async function pushedAndConverged(path: RepositoryPath = repository): Promise<Map<string, string>> {
    const statuses = await bed.notifyPushes();
    expect(statuses.every((status) => status === 202)).toBe(true);
    await waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, timeoutMs: 60_000 });
    return await expectMirrorsMatchPrimary(stores(), path, bed.primary.url, bed.root);
  }

  async function sendGeneric(event: string, body: Record<string, unknown>): Promise<number> {
    const response = await deliver(bed.runtime.webhookUrl, genericDelivery({ secret: WEBHOOK_SECRET, event, body }));
    expect(response.status).toBe(202);
    return response.body.events[0].sequence as number;
  }

  it('an empty repository is created as a valid, empty mirror', async () => {
    await bed.createRepository(repository);
    const sequence = await sendGeneric('repository.created', { repository, defaultBranch: 'refs/heads/main' });
    for (const region of Object.keys(bed.runtime.regions)) {
      const state = await eventually(async () => {
        const current = await bed.runtime.registry(region).get(repository);
        return current?.status === 'synced' && (current.syncedSequence ?? 0) >= sequence ? current : undefined;
      });
      expect(state).toMatchObject({ refCount: 0, head: 'refs/heads/main', packCount: 0 });
      // Stock git clones it: an empty repository, HEAD on the host's default branch.
      expect(await cloneMirror(bed.runtime.mirrors(region), repository, bed.root)).toEqual(new Map());
      expect((await bed.runtime.mirrors(region).get(`${repository}.git/HEAD`))?.toString()).toBe('ref: refs/heads/main\n');
    }
    expect(fetchesOf(bed.primary.requests, repository)).toHaveLength(0);
  });

  it('a new branch, then a fast-forward', async () => {
    work = await bed.workingCopy(repository);
    await commit(work, 2, 'first');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    expect((await pushedAndConverged()).get('refs/heads/main')).toBeDefined();
    const head = await commit(work, 3, 'ff');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    expect((await pushedAndConverged()).get('refs/heads/main')).toBe(head);
  });

  it('a second branch, then a force push that rewrites it (non-fast-forward)', async () => {
    await git(['checkout', '-q', '-b', 'feature'], { cwd: work });
    const before = await commit(work, 2, 'feature');
    await git(['push', '-q', 'origin', 'feature'], { cwd: work });
    expect((await pushedAndConverged()).get('refs/heads/feature')).toBe(before);
    await git(['reset', '-q', '--hard', 'HEAD~2'], { cwd: work });
    const rewritten = await commit(work, 1, 'rewritten');
    await git(['push', '-q', '--force', 'origin', 'feature'], { cwd: work });
    expect(bed.pushes.at(-1)?.updates).toEqual([{ ref: 'refs/heads/feature', before, after: rewritten }]);
    expect((await pushedAndConverged()).get('refs/heads/feature')).toBe(rewritten);
  });

  it('a branch deletion', async () => {
    await git(['push', '-q', 'origin', ':feature'], { cwd: work });
    const refs = await pushedAndConverged();
    expect(refs.has('refs/heads/feature')).toBe(false);
  });

  it('a lightweight and an annotated tag, then a tag deletion', async () => {
    await git(['checkout', '-q', 'main'], { cwd: work });
    await git(['tag', 'light'], { cwd: work });
    await git(['tag', '-a', 'v1.0', '-m', 'release 1.0', 'HEAD~1'], { cwd: work });
    await git(['push', '-q', 'origin', 'light', 'v1.0'], { cwd: work });
    const refs = await pushedAndConverged();
    expect(refs.get('refs/tags/light')).toBe(refs.get('refs/heads/main'));
    expect(refs.get('refs/tags/v1.0')).not.toBe(refs.get('refs/heads/main'));
    // The annotated tag is peeled in info/refs, as git update-server-info writes it.
    const infoRefs = (await bed.runtime.mirrors('eu-west-1').get(`${repository}.git/info/refs`))!.toString();
    expect(infoRefs).toContain('\trefs/tags/v1.0^{}\n');
    await git(['push', '-q', 'origin', ':refs/tags/light'], { cwd: work });
    expect((await pushedAndConverged()).has('refs/tags/light')).toBe(false);
  });

  it('a change of the default branch (HEAD) on the primary', async () => {
    await git(['push', '-q', 'origin', 'main:develop'], { cwd: work });
    await pushedAndConverged();
    const bare = join(bed.root, 'primary', `${repository}.git`);
    await git(['symbolic-ref', 'HEAD', 'refs/heads/develop'], { cwd: bare });
    const sequence = await sendGeneric('head.changed', { repository });
    const states = await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
    for (const state of states.values()) expect(state.head).toBe('refs/heads/develop');
    const refs = await expectMirrorsMatchPrimary(stores(), repository, bed.primary.url, bed.root);
    expect(refs.get('HEAD')).toBe('refs/heads/develop');
  });

  it('a repository with 3,000 tags and a few hundred commits', async () => {
    const big = parseRepositoryPath('platform/many-refs');
    const bare = join(bed.root, 'primary', `${big}.git`);
    await bed.createRepository(big);
    await generateRepository(bare, { commits: 300 });
    const commits = (await git(['rev-list', 'main'], { cwd: bare })).trim().split('\n');
    const lines = Array.from({ length: 3000 }, (_, i) => `create refs/tags/t${String(i).padStart(4, '0')} ${commits[i % commits.length]}\n`).join('');
    await new Promise<void>((resolve, reject) => {
      const child = spawn('git', ['update-ref', '--stdin'], { cwd: bare });
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`update-ref exited ${code}`))));
      child.stdin.end(lines);
    });
    const sequence = await sendGeneric('push', { repository: big });
    const states = await waitForConvergence({ runtime: bed.runtime, repository: big, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 90_000 });
    for (const state of states.values()) {
      expect(state.refCount).toBe(3001);
      // Past 200 refs the registry keeps the checksum, and info/refs in the bucket is the record.
      expect(state.refs).toBeUndefined();
    }
    const refs = await expectMirrorsMatchPrimary(stores(), big, bed.primary.url, bed.root);
    expect([...refs.keys()].filter((name) => name.startsWith('refs/tags/'))).toHaveLength(3000);
  });

  it('a binary file of 24 MB', async () => {
    const binary = parseRepositoryPath('platform/assets');
    await bed.createRepository(binary);
    const copy = await bed.workingCopy(binary);
    await writeFile(join(copy, 'model.bin'), randomBytes(24 * 1024 * 1024));
    await git(['add', 'model.bin'], { cwd: copy });
    await git(['commit', '-q', '-m', 'add a model'], { cwd: copy });
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: copy });
    await pushedAndConverged(binary);
    for (const region of Object.keys(bed.runtime.regions)) {
      const state = await bed.runtime.registry(region).get(binary);
      expect(state?.lastFetchBytes).toBeGreaterThan(24 * 1024 * 1024);
    }
    const primary = await listRefs(`${bed.primary.url}/${binary}.git`);
    expect(primary.get('refs/heads/main')).toMatch(/^[0-9a-f]{40}$/);
  });

  it('a primary whose HEAD names a branch that does not exist (only master was pushed; HEAD is main)', async () => {
    const path = parseRepositoryPath('platform/unborn-head');
    await bed.createRepository(path);
    const copy = await bed.workingCopy(path);
    await commit(copy, 2, 'master-only');
    await git(['push', '-q', 'origin', 'HEAD:master'], { cwd: copy });
    const sequence = await sendGeneric('push', { repository: path });
    const primary = await listRefs(`${bed.primary.url}/${path}.git`);
    expect(primary.has('HEAD')).toBe(false);
    for (const region of Object.keys(bed.runtime.regions)) {
      const state = await eventually(async () => {
        const current = await bed.runtime.registry(region).get(path);
        return current?.status === 'synced' && (current.syncedSequence ?? 0) >= sequence ? current : undefined;
      });
      expect(state.refs).toEqual(Object.fromEntries(primary));
      const cloned = await cloneMirror(bed.runtime.mirrors(region), path, bed.root);
      expect(cloned.get('refs/heads/master')).toBe(primary.get('refs/heads/master'));
    }
  });
});
