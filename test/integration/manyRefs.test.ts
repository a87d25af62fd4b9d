import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { hostApi } from '../../bin/ops/HostApi.ts';
import { promoteRegion } from '../../bin/ops/promoteRegion.ts';
import { rpoReport } from '../../bin/ops/rpoReport.ts';
import { startGitServer } from '../../bin/local/startGitServer.ts';
import { RequestCounter } from '../../bench/RequestCounter.ts';
import type { BackupResult } from '../../lambdas/backup/createBackupHandler.ts';
import { snapshotKey, SnapshotManifestSchema } from '../../lambdas/backup/SnapshotManifest.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { VerifyResult } from '../../lambdas/verify/createVerifyHandler.ts';
import { primaryControls } from '../helpers/drBed.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const REFS = 20_000;
const REGION = 'eu-west-1';

/**
 * A repository with 20,000 refs through everything that keeps per-ref state: the regions' sync,
 * the scheduled verification and backup (which query the registry's status index and never scan),
 * a promotion onto a fresh host (20,000 refs pushed, and folded into the event log's known refs,
 * split over items within DynamoDB's limits) and the RPO report that reads them back.
 */
describe(`a repository with ${REFS} refs`, () => {
  let bed: TestBed;
  const counter = new RequestCounter();
  const repository = parseRepositoryPath('many/refs');
  let primaryRefs: Map<string, string>;

  const fire = async <T>(name: string): Promise<T> => {
    const rule = bed.runtime.scheduler.ruleNames.find((candidate) => candidate.includes(name) && (name === 'Watchdog' || candidate.includes(REGION)))!;
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
    await bed?.stop();
  });

  it('verification, the watchdog and the backup run on their schedules without a single Scan', async () => {
    counter.reset();
    const verified = await fire<VerifyResult>('VerifySchedule');
    expect(verified.outcomes?.[repository]).toMatchObject({ kind: 'verified' });
    await fire('Watchdog');
    const backup = await fire<BackupResult>('Backup');
    expect(backup).toMatchObject({ complete: true, repositories: 1 });
    const body = await bed.runtime.mirrors(REGION).get(snapshotKey(backup.snapshotId));
    const manifest = SnapshotManifestSchema.parse(JSON.parse(body!.toString('utf8')));
    expect(Object.keys(manifest.repositories[0]!.refs)).toHaveLength(REFS + 1);

    const operations = Object.entries(counter.snapshot()).flatMap(([scope, services]) => Object.keys(services.DynamoDB ?? {}).map((operation) => `${scope} ${operation}`));
    // The schedules did read the registry (through its index), and never scanned it.
    expect(operations.some((entry) => entry.endsWith(' Query'))).toBe(true);
    expect(operations.filter((entry) => entry.endsWith(' Scan'))).toEqual([]);
  }, 240_000);

  it('a promotion onto a fresh host pushes all 20,000 refs and folds them into the known refs; the RPO report reads them back with nothing at risk', async () => {
    const controls = primaryControls(bed.runtime);
    const fresh = await startGitServer({ root: join(bed.root, 'fresh'), autoCreate: true });
    try {
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
      expect(await listRefs(`${fresh.url}/${repository}.git`)).toEqual(primaryRefs);
    } finally {
      await fresh.stop();
    }
    // The promotion's event is too large to travel with its 20,000 changes: promote folded them into the known refs itself.
    const known = (await controls.eventLog.head(repository))!.knownRefs;
    expect(Object.keys(known)).toHaveLength(REFS + 1);
    expect(known['refs/heads/many/b19999']).toBe(primaryRefs.get('refs/heads/many/b19999'));
    const report = await rpoReport({ region: REGION, ...controls, store: bed.runtime.mirrors(REGION), registry: bed.runtime.registry(REGION), refNamespaces: bed.runtime.config.refNamespaces, repositories: [repository] });
    expect(report.atRisk).toBe(0);
    expect(report.repositories).toEqual([expect.objectContaining({ repository, current: true, missing: [], different: [] })]);

    // One ref deleted on the primary and not yet in the region: the known refs drop exactly that one.
    const { event } = (await controls.eventLog.record(repository, 'many-refs-test:delete', new Date().toISOString(), (sequence) => ({
      kind: 'sync.requested', repository, changes: [], version: 1, eventId: 'many-refs-test:delete', deliveryId: 'many-refs-test', source: 'git-geo', sequence, receivedAt: new Date().toISOString(),
    } satisfies ChangeEvent)));
    await controls.eventLog.markPublished(event, [{ ref: 'refs/heads/many/b00042', before: primaryRefs.get('refs/heads/many/b00042')!, after: '0'.repeat(40) }]);
    const after = await controls.eventLog.head(repository);
    expect(Object.keys(after!.knownRefs)).toHaveLength(REFS);
    expect(after!.knownRefs['refs/heads/many/b00042']).toBeUndefined();
  }, 300_000);
});
