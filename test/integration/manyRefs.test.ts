import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { isPackFetch, startGitServer, type GitServer } from '../../bin/local/startGitServer.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { hostApi } from '../../bin/ops/HostApi.ts';
import { promoteRegion } from '../../bin/ops/promoteRegion.ts';
import { rpoReport } from '../../bin/ops/rpoReport.ts';
import { RequestCounter } from '../../bench/RequestCounter.ts';
import type { BackupResult } from '../../lambdas/backup/createBackupHandler.ts';
import { snapshotKey, SnapshotManifestSchema } from '../../lambdas/backup/SnapshotManifest.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { fitForTransport } from '../../lambdas/shared/events/fitForTransport.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { VerifyResult } from '../../lambdas/verify/createVerifyHandler.ts';
import { primaryControls } from '../helpers/drBed.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const REFS = 20_000;
const REGION = 'eu-west-1';

/**
 * A repository with 20,000 refs through everything that keeps per-ref state: the regions' sync,
 * the scheduled verification and backup (which query the registry's status index and never scan),
 * a promotion onto a fresh host (20,000 refs pushed, published as ref changes and folded into the
 * event log's known refs, split over items within DynamoDB's limits; every region reconciles with
 * the new primary), and the RPO report that reads the known refs back, before and after.
 */
describe(`a repository with ${REFS} refs`, () => {
  let bed: TestBed;
  let fresh: GitServer | undefined;
  const counter = new RequestCounter();
  const repository = parseRepositoryPath('many/refs');
  let primaryRefs: Map<string, string>;

  /** Fires the region's schedule that invokes `functionName` with `input` (as EventBridge would). */
  const fire = async <T>(functionName: string, input?: unknown): Promise<T> => {
    const fn = bed.runtime.lambdas.find((lambda) => lambda.name === functionName)!;
    const rule = bed.runtime.scheduler.ruleTargeting(fn.fn.arn, input)!;
    expect(rule).toBeDefined();
    const [result] = (await bed.runtime.scheduler.fire(rule)) as T[];
    return result!;
  };

  beforeAll(async () => {
    bed = await startTestBed({ config: { secondaryRegions: [REGION] }, clientPlugins: (fn) => [counter.plugin(`${fn.logicalId}@${fn.region}`)] });
    await bed.createRepository(repository);
    const work = await bed.workingCopy(repository);
    const head = await commit(work, 1, 'many');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    // 20,000 branches on one commit, written straight into the primary's packed-refs.
    const lines = Array.from({ length: REFS }, (_, index) => `${head} refs/heads/many/b${String(index).padStart(5, '0')}\n`).join('');
    await appendFile(join(bed.root, 'primary', `${repository}.git`, 'packed-refs'), lines);
    primaryRefs = await listRefs(`${bed.primary.url}/${repository}.git`);
    expect(primaryRefs.size).toBe(REFS + 2); // HEAD and main besides
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 240_000 });
  }, 300_000);
  afterAll(async () => {
    await fresh?.stop();
    await bed?.stop();
  });

  it('verification, the watchdog and the backup run on their schedules without a single Scan', async () => {
    counter.reset();
    const { verifyFunctionName } = bed.runtime.regions[REGION]!;
    const verified = await fire<VerifyResult>(verifyFunctionName, { action: 'verify' });
    expect(verified.outcomes?.[repository]).toMatchObject({ kind: 'verified' });
    await fire(verifyFunctionName, { action: 'watchdog' });
    const backupFunction = bed.runtime.lambdas.find((lambda) => lambda.fn.region === REGION && lambda.fn.logicalId.includes('Backup'))!;
    const backup = await fire<BackupResult>(backupFunction.name);
    expect(backup).toMatchObject({ complete: true, repositories: 1 });
    const body = await bed.runtime.mirrors(REGION).get(snapshotKey(backup.snapshotId));
    const manifest = SnapshotManifestSchema.parse(JSON.parse(body!.toString('utf8')));
    expect(Object.keys(manifest.repositories[0]!.refs)).toHaveLength(REFS + 1);

    const operations = Object.entries(counter.snapshot()).flatMap(([scope, services]) => Object.keys(services.DynamoDB ?? {}).map((operation) => `${scope} ${operation}`));
    // The schedules did read the registry (through its index), and never scanned it.
    expect(operations.some((entry) => entry.endsWith(' Query'))).toBe(true);
    expect(operations.filter((entry) => entry.endsWith(' Scan'))).toEqual([]);
  }, 240_000);

  it('clones through the region with default client settings, over protocol v2 and v0, with every ref and without the primary', async () => {
    const url = `${bed.runtime.regions[REGION]!.gitUrl}/${repository}.git`;
    const mark = bed.primary.requests.length;
    const expected = new Map([...primaryRefs].filter(([ref]) => ref !== 'HEAD'));
    // v0 sends a want per ref (20,001 lines); a small postBuffer makes git probe with a lone flush, then send the request chunked.
    for (const [label, config] of [['v2', []], ['v0', ['-c', 'protocol.version=0']], ['v0, probe first', ['-c', 'protocol.version=0', '-c', 'http.postBuffer=65536']]] as const) {
      const dir = join(bed.root, `many-refs-clone-${label.replaceAll(/\W/g, '')}`);
      await git([...config, 'clone', '-q', '--mirror', url, dir]);
      const cloned = new Map((await git(['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: dir })).trim().split('\n').map((line) => line.split(' ') as [string, string]));
      expect({ label, refs: cloned.size }).toEqual({ label, refs: expected.size });
      expect(cloned).toEqual(expected);
      await git(['fsck', '--no-dangling'], { cwd: dir });
    }
    // Every pack came from the region: the primary answered only access checks, never an upload-pack fetch.
    expect(bed.primary.requests.slice(mark).filter(isPackFetch)).toEqual([]);
  }, 240_000);

  it('promotion onto a fresh host pushes all 20,000 refs in one request and publishes a change for each; the RPO report reads them back, and every region then matches the new primary', async () => {
    const controls = primaryControls(bed.runtime);
    const report = () => rpoReport({ region: REGION, ...controls, store: bed.runtime.mirrors(REGION), registry: bed.runtime.registry(REGION), refNamespaces: bed.runtime.config.refNamespaces, repositories: [repository] });
    // The branches were written on the primary without webhooks: the event log knows main only. The region holds them all.
    expect(Object.keys((await controls.eventLog.head(repository))!.knownRefs)).toEqual(['refs/heads/main']);
    const before = await report();
    expect(before.atRisk).toBe(0);
    expect(before.repositories).toEqual([expect.objectContaining({ repository, current: true, noMirror: false, missing: [], different: [] })]);
    expect(before.repositories[0]!.extra).toHaveLength(REFS);

    fresh = await startGitServer({ root: join(bed.root, 'fresh'), autoCreate: true });
    const result = await promoteRegion({
      region: REGION,
      to: fresh.url,
      previousUrl: bed.primary.url,
      store: bed.runtime.mirrors(REGION),
      registry: bed.runtime.registry(REGION),
      ...controls,
      host: hostApi('git-geo-local', fresh.url, undefined),
      refNamespaces: bed.runtime.config.refNamespaces,
      operator: 'many-refs-test',
      planned: true,
      scratch: join(bed.root, 'scratch'),
    });
    expect(result.failed).toEqual([]);
    expect(result.eventsPublished).toBe(1);
    const promoted = await listRefs(`${fresh.url}/${repository}.git`);
    expect(promoted).toEqual(primaryRefs);
    expect(fresh.requests.filter((request) => request.service === 'git-receive-pack' && request.method === 'POST')).toHaveLength(1);

    // The promotion's event is too large to carry its 20,000 changes: promote folded the full list into the known refs.
    const known = await controls.eventLog.head(repository);
    expect(known!.knownRefs).toEqual(Object.fromEntries([...primaryRefs].filter(([ref]) => ref !== 'HEAD')));
    const after = await report();
    expect(after).toMatchObject({ atRisk: 0, refsAtRisk: 0 });
    expect(after.repositories).toEqual([{ repository, current: true, noMirror: false, missing: [], different: [], extra: [] }]);

    // Every region syncs the promotion's event from the new primary; each mirror clones with the new primary's refs, fsck clean.
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: fresh.url, minSequence: known!.latestSequence, timeoutMs: 240_000 });
    const expected = new Map([...promoted].filter(([ref]) => ref !== 'HEAD'));
    for (const [region, info] of Object.entries(bed.runtime.regions)) {
      const dir = join(bed.root, `many-refs-promoted-${region}`);
      await git(['clone', '-q', '--mirror', `${info.gitUrl}/${repository}.git`, dir]);
      const cloned = new Map((await git(['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: dir })).trim().split('\n').map((line) => line.split(' ') as [string, string]));
      expect({ region, refs: cloned.size }).toEqual({ region, refs: expected.size });
      expect(cloned).toEqual(expected);
      await git(['fsck', '--no-dangling'], { cwd: dir });
    }
  }, 480_000);

  it('one ref deleted among the 20,000 known folds out of the known refs, and the RPO report names exactly it as held by the region alone', async () => {
    const controls = primaryControls(bed.runtime);
    const ref = 'refs/heads/many/b00042';
    const changes = [{ ref, before: primaryRefs.get(ref)!, after: '0'.repeat(40) }];
    const receivedAt = new Date().toISOString();
    const eventId = 'many-refs-test:delete';
    const recorded = await controls.eventLog.record(repository, eventId, receivedAt, (sequence) =>
      fitForTransport<ChangeEvent>({ kind: 'sync.requested', repository, changes, version: 1, eventId, deliveryId: 'many-refs-test', source: 'git-geo', sequence, receivedAt }),
    );
    // Not published: the region has not synced the deletion yet, as when the primary is lost right after it.
    await controls.eventLog.markPublished(recorded.event, changes);
    const after = await controls.eventLog.head(repository);
    expect(Object.keys(after!.knownRefs)).toHaveLength(REFS);
    expect(after!.knownRefs[ref]).toBeUndefined();
    const report = await rpoReport({ region: REGION, ...controls, store: bed.runtime.mirrors(REGION), registry: bed.runtime.registry(REGION), refNamespaces: bed.runtime.config.refNamespaces, repositories: [repository] });
    expect(report.atRisk).toBe(0);
    expect(report.repositories).toEqual([{ repository, current: true, noMirror: false, missing: [], different: [], extra: [{ ref, region: primaryRefs.get(ref)! }] }]);
  }, 120_000);
});
