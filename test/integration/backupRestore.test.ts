import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadMirror } from '../../bin/local/downloadMirror.ts';
import { git, listRefs } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { hostApi } from '../../bin/ops/HostApi.ts';
import { restoreSnapshot } from '../../bin/ops/restoreSnapshot.ts';
import { readManifest } from '../../bin/ops/snapshotStore.ts';
import { verifySnapshot } from '../../bin/ops/verifySnapshot.ts';
import { collectGarbage } from '../../lambdas/backup/collectGarbage.ts';
import type { BackupResult } from '../../lambdas/backup/createBackupHandler.ts';
import { retiredPackKey, snapshotKey, type SnapshotManifest } from '../../lambdas/backup/SnapshotManifest.ts';
import { mirrorPrefix } from '../../lambdas/shared/git/MirrorRepository.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { targetRuntime } from '../helpers/localTarget.ts';
import { deliver, genericDelivery } from '../helpers/webhookSamples.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { runCliJson } from '../helpers/runCli.ts';

describe('backup and restore: snapshots bring back a deleted repository and force-pushed-away commits', () => {
  let bed: TestBed;
  const app = parseRepositoryPath('bk/app');
  const lib = parseRepositoryPath('bk/lib');
  let manifest: SnapshotManifest;
  let refsAtSnapshot: Map<string, Map<string, string>>;
  let droppedHead: string;

  const store = () => bed.runtime.mirrors('eu-west-1');
  const fireBackup = async (): Promise<BackupResult> => {
    const rule = bed.runtime.scheduler.ruleNames.find((name) => name.includes('eu-west-1') && name.includes('Backup'));
    expect(rule).toBeDefined();
    const [result] = (await bed.runtime.scheduler.fire(rule!)) as BackupResult[];
    return result!;
  };

  beforeAll(async () => {
    bed = await startTestBed();
    for (const repository of [app, lib]) await bed.createRepository(repository);
    const work = await bed.workingCopy(app);
    await commit(work, 2, 'base');
    await git(['tag', '-a', 'v1', '-m', 'v1'], { cwd: work });
    await git(['push', '-q', 'origin', 'main', '--tags'], { cwd: work });
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository: app, primaryUrl: bed.primary.url, timeoutMs: 90_000 });
    droppedHead = await commit(work, 2, 'precious');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    const libWork = await bed.workingCopy(lib);
    await commit(libWork, 2, 'lib');
    await git(['push', '-q', 'origin', 'main'], { cwd: libWork });
    await bed.notifyPushes();
    for (const repository of [app, lib]) await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 90_000 });
    refsAtSnapshot = new Map(await Promise.all([app, lib].map(async (repository) => [repository, await listRefs(`${bed.primary.url}/${repository}.git`)] as const)));
  }, 180_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it('the scheduled backup writes a manifest of refs and pack names outside every repository, copying no pack', async () => {
    const keysBefore: string[] = [];
    for await (const object of store().list('')) keysBefore.push(object.key);
    const result = await fireBackup();
    expect(result.repositories).toBe(2);
    manifest = await readManifest(store(), result.snapshotId);
    expect(manifest.region).toBe('eu-west-1');
    for (const entry of manifest.repositories) {
      const primary = refsAtSnapshot.get(entry.repository)!;
      expect(entry.head).toBe(primary.get('HEAD'));
      expect(new Map(Object.entries(entry.refs))).toEqual(new Map([...primary].filter(([name]) => name !== 'HEAD')));
      expect(entry.packs.length).toBeGreaterThan(0);
    }
    const keysAfter: string[] = [];
    for await (const object of store().list('')) keysAfter.push(object.key);
    // One new object: the manifest.
    expect(keysAfter.filter((key) => !keysBefore.includes(key))).toEqual([snapshotKey(manifest.id)]);
  }, 60_000);

  it('a deletion and a force push that drops commits replicate to every region', async () => {
    const work = await bed.workingCopy(app);
    await git(['reset', '-q', '--hard', 'HEAD~2'], { cwd: work });
    await git(['push', '-q', '--force', 'origin', 'main'], { cwd: work });
    await rename(join(bed.root, 'primary', `${lib}.git`), join(bed.root, 'gone-lib.git'));
    await bed.notifyPushes();
    const { status } = await deliver(bed.runtime.webhookUrl, genericDelivery({ secret: WEBHOOK_SECRET, event: 'repository.deleted', body: { repository: lib } }));
    expect(status).toBe(202);
    const states = await waitForConvergence({ runtime: bed.runtime, repository: app, primaryUrl: bed.primary.url, timeoutMs: 90_000 });
    for (const state of states.values()) expect(state.refs?.['refs/heads/main']).not.toBe(droppedHead);
    for (const region of ['eu-west-1', 'ap-southeast-2']) {
      for (let i = 0; (await bed.runtime.registry(region).get(lib))?.status !== 'deleted'; i++) {
        if (i > 600) throw new Error(`${lib} not deleted in ${region}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    // The deleted mirror's packs were retired by name, not lost.
    const libPacks = manifest.repositories.find((entry) => entry.repository === lib)!.packs;
    for (const pack of libPacks) expect(await store().head(retiredPackKey(pack.name, 'pack'))).toBeDefined();
  }, 120_000);

  it('bundles from the snapshot are what stock git clone reads: the deleted repository and the dropped commits are back', async () => {
    const dir = join(bed.root, 'bundles');
    const results = await restoreSnapshot({ store: store(), manifest, target: { kind: 'bundle', dir, upload: true }, scratch: join(bed.root, 'scratch'), refNamespaces: bed.runtime.config.refNamespaces });
    expect(results.map((result) => result.error)).toEqual([undefined, undefined]);
    for (const repository of [app, lib]) {
      const clone = join(bed.root, `clone-${repository.replace('/', '-')}`);
      await git(['clone', '-q', '--mirror', join(dir, `${repository}.bundle`), clone]);
      await git(['fsck', '--full', '--strict'], { cwd: clone });
      const refs = await listRefs(clone);
      const expected = refsAtSnapshot.get(repository)!;
      for (const [name, oid] of expected) if (name !== 'HEAD') expect(refs.get(name)).toBe(oid);
      const checkout = join(bed.root, `checkout-${repository.replace('/', '-')}`);
      await git(['clone', '-q', join(dir, `${repository}.bundle`), checkout]);
      expect((await git(['rev-parse', 'HEAD'], { cwd: checkout })).trim()).toBe(expected.get('refs/heads/main'));
    }
    expect((await listRefs(join(bed.root, 'clone-bk-app'))).get('refs/heads/main')).toBe(droppedHead);
    expect(await store().head(`.git-geo/bundles/${manifest.id}/${lib}.bundle`)).toBeDefined();
  }, 120_000);

  it('restore by push puts both back on the primary, and into the mirror in place', async () => {
    await bed.createRepository(lib);
    const results = await restoreSnapshot({
      store: store(),
      manifest,
      target: { kind: 'push', url: bed.primary.url, host: hostApi('none', bed.primary.url, undefined) },
      scratch: join(bed.root, 'scratch'),
      refNamespaces: bed.runtime.config.refNamespaces,
    });
    expect(results.map((result) => result.error)).toEqual([undefined, undefined]);
    for (const repository of [app, lib]) expect(await listRefs(`${bed.primary.url}/${repository}.git`)).toEqual(refsAtSnapshot.get(repository));

    const inPlace = await restoreSnapshot({ store: store(), manifest, target: { kind: 'mirror' }, scratch: join(bed.root, 'scratch'), refNamespaces: bed.runtime.config.refNamespaces, repositories: [lib] });
    expect(inPlace).toEqual([{ repository: lib, refs: 1 }]);
    const mirrorDir = await downloadMirror(store(), lib, join(bed.root, 'in-place'));
    await git(['fsck', '--full', '--strict'], { cwd: mirrorDir });
    expect(await listRefs(mirrorDir)).toEqual(refsAtSnapshot.get(lib));
    await expect(restoreSnapshot({ store: store(), manifest, target: { kind: 'mirror' }, scratch: bed.root, refNamespaces: ['refs/heads/'], repositories: ['bk/none'] })).rejects.toThrow(/has no bk\/none/);
  }, 120_000);

  it('backup verify restores to scratch space and checks packs, fsck and refs; a damaged index is caught', async () => {
    const verification = await verifySnapshot({ store: store(), manifest, scratch: join(bed.root, 'verify') });
    expect(verification.ok).toBe(true);
    expect(verification.repositories.map((entry) => [entry.repository, entry.ok, entry.problems])).toEqual([
      [app, true, []],
      [lib, true, []],
    ]);
    // Damage a copy of the snapshot's lib pack index (the retired one; the restored mirror has its own key).
    const pack = manifest.repositories.find((entry) => entry.repository === lib)!.packs[0]!;
    const damaged: SnapshotManifest = { ...manifest, repositories: manifest.repositories.map((entry) => (entry.repository === lib ? { ...entry, repository: 'bk/damaged', packs: [pack] } : entry)) };
    const idx = (await store().get(retiredPackKey(pack.name, 'idx')))!;
    idx[idx.length - 30] = idx[idx.length - 30]! ^ 0xff;
    await store().put(retiredPackKey(pack.name, 'idx'), idx);
    const bad = await verifySnapshot({ store: store(), manifest: damaged, scratch: join(bed.root, 'verify'), repositories: ['bk/damaged'] });
    expect(bad.ok).toBe(false);
    expect(bad.repositories[0]!.problems.join('\n')).toMatch(/\.idx: checksum does not match/);
  }, 120_000);

  it('the garbage collector removes only unreferenced packs: never a listed or snapshotted one, never a young one', async () => {
    const orphan = `pack-${'ab'.repeat(20)}`;
    for (const ext of ['pack', 'idx']) await store().put(`${mirrorPrefix(app)}objects/pack/${orphan}.${ext}`, `not referenced ${ext}`);
    const keep = { hourlyForHours: 24, dailyForDays: 30 };
    const young = await collectGarbage({ store: store(), retention: keep, now: () => new Date() });
    expect(young.packsDeleted).toEqual([]);
    expect(young.packsSpared).toEqual([`${mirrorPrefix(app)}objects/pack/${orphan}.idx`, `${mirrorPrefix(app)}objects/pack/${orphan}.pack`]);

    const collected = await collectGarbage({ store: store(), retention: keep, now: () => new Date(), graceSeconds: 0 });
    expect(collected.packsDeleted).toEqual([`${mirrorPrefix(app)}objects/pack/${orphan}.idx`, `${mirrorPrefix(app)}objects/pack/${orphan}.pack`]);
    expect(collected.snapshotsKept).toEqual([manifest.id]);
    const libPack = manifest.repositories.find((entry) => entry.repository === lib)!.packs[0]!;
    expect(await store().head(retiredPackKey(libPack.name, 'pack'))).toBeDefined();

    // A newer snapshot in the same hour: the scheduled run's policy (the newest of each hour) drops the
    // old manifest, but its retired packs are younger than the grace period and stay for now.
    const second = await fireBackup();
    expect(second.garbage?.snapshotsDeleted).toEqual([manifest.id]);
    expect(second.garbage?.packsDeleted).toEqual([]);
    expect(second.garbage?.packsSpared).toContain(retiredPackKey(libPack.name, 'pack'));
    // Past the grace period, the retired packs only the old manifest named go; the packs the mirrors list stay.
    const tight = await collectGarbage({ store: store(), retention: { hourlyForHours: 0, dailyForDays: 0 }, now: () => new Date(), graceSeconds: 0 });
    expect(tight.snapshotsKept).toEqual([second.snapshotId]);
    expect(tight.packsDeleted.every((key) => key.startsWith('.git-geo/packs/'))).toBe(true);
    expect(tight.packsDeleted).toContain(retiredPackKey(libPack.name, 'pack'));
    for (const repository of [app, lib]) {
      const mirrorDir = await downloadMirror(store(), repository, join(bed.root, `after-gc-${repository.replace('/', '-')}`));
      await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: mirrorDir });
    }
    const current = await readManifest(store(), 'latest');
    expect(current.id).toBe(second.snapshotId);
    expect((await verifySnapshot({ store: store(), manifest: current, scratch: join(bed.root, 'verify2') })).ok).toBe(true);
  }, 120_000);

  it('the operator commands work against the local runtime: backup, backup verify, restore --bundle, rpo', async () => {
    await targetRuntime(bed.runtime);
    const run = (...args: string[]): Promise<Record<string, unknown>> => runCliJson(...args);
    const taken = await run('backup', '--region', 'eu-west-1');
    expect(taken).toMatchObject({ region: 'eu-west-1', repositories: 1 });
    expect(await run('backup', 'verify', '--region', 'eu-west-1', '--snapshot', String(taken.snapshotId), '--scratch', join(bed.root, 'cli'))).toMatchObject({ ok: true, repositories: 1, bad: 0 });
    const dir = join(bed.root, 'cli-bundles');
    expect(await run('restore', '--region', 'eu-west-1', '--snapshot', 'latest', '--repo', app, '--bundle', dir, '--scratch', join(bed.root, 'cli'))).toMatchObject({ restored: 1, failed: 0 });
    const clone = join(bed.root, 'cli-clone');
    await git(['clone', '-q', join(dir, `${app}.bundle`), clone]);
    // The mirror's state now (the force push; restoring to the primary sent no webhook).
    expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe((await bed.runtime.registry('eu-west-1').get(app))?.refs?.['refs/heads/main']);
    const report = await run('rpo', '--region', 'eu-west-1', '--repo', app, '--json');
    expect(report).toMatchObject({ region: 'eu-west-1', atRisk: 0 });
    await expect(run('restore', '--region', 'eu-west-1', '--snapshot', 'latest', '--in-place', '--bundle', dir)).rejects.toThrow(/choose one of/);
    process.exitCode = undefined;
  }, 120_000);
});
