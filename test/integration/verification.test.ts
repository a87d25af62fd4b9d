import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { main } from '../../bin/cli.ts';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import type { LocalLambda } from '../../bin/local/LocalLambda.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { VerifyResult } from '../../lambdas/verify/createVerifyHandler.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { targetRuntime } from '../helpers/localTarget.ts';
import { eventually } from '../helpers/eventually.ts';
import { cloneMirror } from '../helpers/mirrorChecks.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const REGION = 'eu-west-1';

describe('verification: damaged mirrors are found from their bytes and healed, without loops', () => {
  let bed: TestBed;
  let verify: LocalLambda;

  const state = async (repository: RepositoryPath): Promise<RepositoryState | undefined> => await bed.runtime.registry(REGION).get(repository);
  const verifyNow = async (repository: RepositoryPath, force = true): Promise<VerifyResult> =>
    (await verify.invoke({ action: 'verify', repository, force })) as VerifyResult;
  const mirrorKey = (repository: RepositoryPath, file: string): string => `${repository}.git/${file}`;

  /** A repository with two branches, an annotated and a lightweight tag and a merge-request ref, mirrored and converged. */
  async function mirrored(path: string): Promise<RepositoryPath> {
    const repository = parseRepositoryPath(path);
    await bed.createRepository(repository);
    const work = await bed.workingCopy(repository);
    await commit(work, 3, 'base');
    await git(['tag', '-a', 'v1', '-m', 'release 1'], { cwd: work });
    await commit(work, 1, 'later');
    await git(['tag', 'light'], { cwd: work });
    await git(['checkout', '-q', '-b', 'topic'], { cwd: work });
    await commit(work, 1, 'topic');
    await git(['push', '-q', 'origin', 'main', 'topic', '--tags'], { cwd: work });
    // A merge request's head, as GitLab keeps it: a ref outside heads and tags, written in the bare repository.
    await git(['update-ref', 'refs/merge-requests/1/head', 'topic'], { cwd: join(bed.root, 'primary', `${repository}.git`) });
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, regions: [REGION], timeoutMs: 90_000 });
    return repository;
  }

  beforeAll(async () => {
    bed = await startTestBed({
      config: {
        secondaryRegions: [REGION],
        refNamespaces: ['refs/heads/', 'refs/tags/', 'refs/merge-requests/'],
        maxVerificationRepairs: 1,
        verificationBackoffSeconds: 1,
        verifyIntervalHours: 0,
      },
    });
    verify = bed.runtime.lambdas.find((lambda) => lambda.name === bed.runtime.regions[REGION]!.verifyFunctionName)!;
  }, 120_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it('verifies every mirror on the schedule, refs/merge-requests/* included, and records the time and checksum', async () => {
    const repository = await mirrored('verify/healthy');
    const rule = bed.runtime.scheduler.ruleTargeting(verify.fn.arn, { action: 'verify' })!;
    const [result] = (await bed.runtime.scheduler.fire(rule)) as VerifyResult[];
    expect(result!.outcomes?.[repository]).toEqual(expect.objectContaining({ kind: 'verified' }));
    const after = (await state(repository))!;
    expect(after.status).toBe('verified');
    expect(after.verifiedChecksum).toBe(after.refsChecksum);
    expect(Date.parse(after.verifiedAt!)).toBeGreaterThan(Date.now() - 120_000);
    expect(after.refs?.['refs/merge-requests/1/head']).toMatch(/^[0-9a-f]{40}$/);
    // The same through the command line, and the status table counts it verified.
    await targetRuntime(bed.runtime);
    const output: string[] = [];
    const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => (output.push(String(chunk)), true));
    try {
      await main(['node', 'git-geo', 'verify', '--region', REGION, repository]);
      await main(['node', 'git-geo', 'status', '--region', REGION, '--json']);
    } finally {
      write.mockRestore();
    }
    expect(process.exitCode ?? 0).toBe(0);
    expect(output[0]).toMatch(new RegExp(`${repository}.*verified`));
    const [status] = JSON.parse(output[1]!) as { verified: number; control: { paused: boolean } }[];
    expect(status).toEqual(expect.objectContaining({ verified: 1, control: { paused: false } }));
    // Moving the merge request on the primary (no webhook: GitLab sends none for these refs) is seen by verification as lag.
    const bare = join(bed.root, 'primary', `${repository}.git`);
    await git(['update-ref', 'refs/merge-requests/1/head', 'main'], { cwd: bare });
    expect((await verifyNow(repository)).outcomes?.[repository]).toEqual({ kind: 'behind', requested: true });
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, regions: [REGION], timeoutMs: 90_000 });
    expect((await state(repository))!.refs?.['refs/merge-requests/1/head']).toBe((await git(['rev-parse', 'main'], { cwd: bare })).trim());
    expect((await verifyNow(repository)).outcomes?.[repository]).toEqual(expect.objectContaining({ kind: 'verified' }));
  }, 240_000);

  it('finds a deleted pack, a truncated pack, a ref moved to another commit and a missing tag, and repairs each', async () => {
    const [deleted, truncated, moved, untagged] = await Promise.all(['tamper/deleted-pack', 'tamper/truncated-pack', 'tamper/moved-ref', 'tamper/missing-tag'].map(mirrored));
    const store = bed.runtime.mirrors(REGION);
    const packOf = async (repository: RepositoryPath): Promise<string> => {
      const list = (await store.get(mirrorKey(repository, 'objects/info/packs')))!.toString();
      return /P (pack-[0-9a-f]+)\.pack/.exec(list)![1]!;
    };
    for (const repository of [deleted!, truncated!, moved!, untagged!]) {
      expect((await verifyNow(repository)).outcomes?.[repository]).toEqual(expect.objectContaining({ kind: 'verified' }));
    }

    await store.delete([mirrorKey(deleted!, `objects/pack/${await packOf(deleted!)}.pack`)]);
    const packKey = mirrorKey(truncated!, `objects/pack/${await packOf(truncated!)}.pack`);
    const pack = (await store.get(packKey))!;
    await store.put(packKey, pack.subarray(0, pack.length - 100));
    // The ref moves consistently in both ref files, to a commit the mirror holds: only a comparison finds it.
    const previous = (await state(moved!))!.refs!['refs/heads/main']!;
    const parent = (await git(['rev-parse', 'main~1'], { cwd: join(bed.root, 'primary', `${moved!}.git`) })).trim();
    for (const file of ['info/refs', 'packed-refs']) {
      const text = (await store.get(mirrorKey(moved!, file)))!.toString();
      await store.put(mirrorKey(moved!, file), text.replace(`${previous}\trefs/heads/main`, `${parent}\trefs/heads/main`).replace(`${previous} refs/heads/main`, `${parent} refs/heads/main`));
    }
    for (const file of ['info/refs', 'packed-refs']) {
      const text = (await store.get(mirrorKey(untagged!, file)))!.toString();
      await store.put(mirrorKey(untagged!, file), text.split('\n').filter((line) => !line.includes('refs/tags/light')).join('\n'));
    }

    const expected: Record<string, string> = { [deleted!]: 'pack-missing', [truncated!]: 'pack-corrupt', [moved!]: 'refs-inconsistent', [untagged!]: 'refs-inconsistent' };
    for (const [repository, code] of Object.entries(expected)) {
      const outcome = (await verifyNow(repository as RepositoryPath)).outcomes?.[repository];
      expect(outcome).toEqual(expect.objectContaining({ kind: 'repairing', repairs: 1 }));
      expect((outcome as unknown as { problems: { code: string }[] }).problems.map((problem) => problem.code)).toContain(code);
    }
    const scratch = await mkdtemp(join(bed.root, 'repaired-'));
    for (const repository of [deleted!, truncated!, moved!, untagged!]) {
      const repaired = await eventually(async () => {
        const current = await state(repository);
        return current?.status === 'synced' ? current : undefined;
      }, { timeoutMs: 90_000, describe: async () => JSON.stringify(await state(repository)) });
      expect(repaired.verificationRepairs).toBe(1);
      expect((await verifyNow(repository)).outcomes?.[repository]).toEqual(expect.objectContaining({ kind: 'verified' }));
      expect((await state(repository))!.verificationRepairs).toBe(0);
      // A stock git fsck of the bucket's files and of a clone, and the primary's very refs.
      expect(await cloneMirror(store, repository, scratch)).toEqual(await listRefs(`${bed.primary.url}/${repository}.git`));
    }
    // And through the region's Git endpoint, as a user would clone.
    const clone = join(scratch, 'endpoint-clone.git');
    await git(['clone', '-q', '--mirror', `${bed.runtime.regions[REGION]!.gitUrl}/${truncated!}.git`, clone]);
    await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: clone });
  }, 400_000);

  it('a primary that moves on between syncs is lag, never damage: no repair, a sync requested, no verification_failed', async () => {
    const repository = await mirrored('verify/moving');
    const work = await bed.workingCopy(repository);
    await commit(work, 1, 'unannounced');
    // Pushed without a webhook: the verifier meets the new refs before any sync has.
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    const outcome = (await verifyNow(repository)).outcomes?.[repository];
    expect(outcome).toEqual({ kind: 'behind', requested: true });
    const after = (await state(repository))!;
    expect(after.status).not.toBe('verification_failed');
    expect(after.verificationRepairs ?? 0).toBe(0);
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, regions: [REGION], timeoutMs: 90_000 });
  }, 240_000);

  it('a mirror that fails again after its repairs is flagged with the reason, and not repaired again', async () => {
    const repository = await mirrored('verify/flaky');
    const store = bed.runtime.mirrors(REGION);
    const breakIt = async (): Promise<void> => {
      const list = (await store.get(mirrorKey(repository, 'objects/info/packs')))!.toString();
      for (const name of list.match(/pack-[0-9a-f]{40}/g) ?? []) await store.delete([mirrorKey(repository, `objects/pack/${name}.pack`)]);
    };
    await breakIt();
    expect((await verifyNow(repository, false)).outcomes?.[repository]).toEqual(expect.objectContaining({ kind: 'repairing', repairs: 1 }));
    await eventually(async () => ((await state(repository))?.status === 'synced' ? true : undefined), { timeoutMs: 90_000 });
    await breakIt();
    await new Promise((resolve) => setTimeout(resolve, 2100)); // the (1 s, doubled) backoff
    const second = (await verifyNow(repository, false)).outcomes?.[repository];
    expect(second).toEqual(expect.objectContaining({ kind: 'gave-up', repairs: 1 }));
    const flagged = (await state(repository))!;
    expect(flagged.status).toBe('verification_failed');
    expect(flagged.verificationGaveUp).toBe(true);
    expect(flagged.verificationFailure?.codes).toContain('pack-missing');
    // The schedule leaves it alone: no repair loop.
    expect((await verifyNow(repository, false)).outcomes?.[repository]).toEqual({ kind: 'skipped', reason: 'gave-up' });
    // An operator asking (`git-geo verify --force`) repairs it once more.
    expect((await verifyNow(repository, true)).outcomes?.[repository]).toEqual(expect.objectContaining({ kind: 'repairing' }));
    await eventually(async () => ((await state(repository))?.status === 'synced' ? true : undefined), { timeoutMs: 90_000 });
  }, 300_000);

  it('a sync stuck in started (its message lost) is retried by the watchdog within its lease, not hours later', async () => {
    const repository = parseRepositoryPath('verify/stuck');
    await bed.createRepository(repository);
    const work = await bed.workingCopy(repository);
    await commit(work, 2, 'stuck');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    // No webhook is sent: the only record is the stuck item.
    const long = new Date(Date.now() - 10 * 60_000).toISOString();
    const db = DynamoDBDocumentClient.from(bed.runtime.clients.region(REGION).dynamodb);
    await db.send(
      new PutCommand({
        TableName: bed.runtime.regions[REGION]!.registryTable,
        Item: { pk: repository, sk: 'git', repository, replicable: 'git', status: 'started', syncStartedAt: long, leaseOwner: 'lost-message', leaseUntil: long, attempts: 1, lastEventSequence: 1, updatedAt: long },
      }),
    );
    const rule = bed.runtime.scheduler.ruleTargeting(verify.fn.arn, { action: 'watchdog' })!;
    const [result] = (await bed.runtime.scheduler.fire(rule)) as VerifyResult[];
    expect(result!.requested).toContain(repository);
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, regions: [REGION], timeoutMs: 90_000 });
    // Asked once: the next round does not ask again while the request has its lease's time to run.
    const [again] = (await bed.runtime.scheduler.fire(rule)) as VerifyResult[];
    expect(again!.requested).not.toContain(repository);
  }, 240_000);
});
