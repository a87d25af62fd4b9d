import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { Announcements } from '../../lambdas/shared/registry/Announcements.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { FailoverResult } from '../../bin/ops/failoverControlPlane.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { targetRuntime } from '../helpers/localTarget.ts';
import { eventually } from '../helpers/eventually.ts';
import { runCliJson } from '../helpers/runCli.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';

const PRIMARY = 'us-east-1';
const SECONDARIES = ['eu-west-1', 'ap-southeast-2'] as const;
/** The standby control plane, and where it moves. */
const STANDBY = 'eu-west-1';
const LOSS_SECONDS = 5;
const BUDGET_SECONDS = 15;

/**
 * The primary AWS region (notify, event log, topic) goes down while the runtime runs; the Git host
 * stays up. One runtime for the whole file: every step builds on the state the previous one left.
 */
describe('a region stands alone when the primary AWS region is lost', () => {
  let bed: TestBed;
  let token: string;
  const app = parseRepositoryPath('outage/app');
  const queued = parseRepositoryPath('outage/queued');
  /** Every answer any region gave a read during the outage. */
  const statuses: number[] = [];

  const control = async (method: 'POST' | 'DELETE' | 'GET', region?: string, bearer = token): Promise<Response> =>
    await fetch(`${bed.runtime.endpoint}/_git-geo/regions${region === undefined ? '' : `/${region}/outage`}`, { method, headers: { authorization: `Bearer ${bearer}` } });
  const announcements = (region: string): Announcements =>
    new Announcements(DynamoDBDocumentClient.from(bed.runtime.clients.region(region).dynamodb), bed.runtime.regions[region]!.registryTable, 0);
  const eventLog = (region = PRIMARY): EventLog =>
    new EventLog(DynamoDBDocumentClient.from(bed.runtime.clients.region(region).dynamodb), bed.runtime.controlPlanes[region]!.eventLogTable);
  /** A control plane's minute heartbeat (its republish schedule), now. */
  const fireHeartbeat = async (region: string): Promise<void> => {
    const republish = bed.runtime.lambdas.find((lambda) => lambda.fn.region === region && lambda.name.includes('Republish'));
    await republish!.invoke({ 'detail-type': 'Scheduled Event', source: 'aws.events', detail: {} });
  };
  /** The active control plane's heartbeat, now, and every region has recorded it. */
  const heartbeat = async (region = PRIMARY): Promise<void> => {
    const before = Date.now();
    await fireHeartbeat(region);
    for (const region of SECONDARIES) {
      await eventually(async () => {
        const { heardAt } = await announcements(region).controlPlaneContact();
        return heardAt !== undefined && Date.parse(heardAt) >= before - 1000 ? true : undefined;
      });
    }
  };
  const converge = async (repository: RepositoryPath, minSequence = 0): Promise<void> => {
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 90_000, minSequence });
  };
  /** One read of a region's refs as git's first request; the status is kept for the no-5xx check. */
  const probe = async (region: string, repository: RepositoryPath): Promise<Response> => {
    const response = await fetch(`${bed.runtime.regions[region]!.gitUrl}/${repository}.git/info/refs`, { redirect: 'manual' });
    statuses.push(response.status);
    return response;
  };
  /** Reads through the region are `current` again once the control plane is heard (endpoints cache what they heard for 5 s). */
  const expectCurrent = async (region: string, repository: RepositoryPath, controlPlane: string): Promise<void> => {
    await eventually(
      async () => {
        await fireHeartbeat(controlPlane);
        return (await probe(region, repository)).headers.get('x-git-geo-freshness') === 'current' ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
  };
  const regionRefs = async (region: string, repository: RepositoryPath): Promise<Record<string, string>> => {
    const refs = await listRefs(`${bed.runtime.regions[region]!.gitUrl}/${repository}.git`);
    return Object.fromEntries([...refs].filter(([name]) => name !== 'HEAD'));
  };

  beforeAll(async () => {
    bed = await startTestBed({ config: { controlPlaneLossSeconds: LOSS_SECONDS, stalenessBudgetSeconds: BUDGET_SECONDS, standbyControlPlaneRegion: STANDBY } });
    token = bed.runtime.readyLine().controlToken as string;
    for (const repository of [app, queued]) {
      await bed.createRepository(repository);
      await commit(await bed.workingCopy(repository), 2, 'before');
      const work = await bed.workingCopy(repository);
      await commit(work, 1, 'pushed');
      await git(['push', '-q', 'origin', 'main'], { cwd: work });
    }
    expect(await bed.notifyPushes()).toEqual([202, 202]);
    for (const repository of [app, queued]) await converge(repository, (await eventLog().latest(repository))!.latestSequence);
    await heartbeat();
  }, 300_000);

  afterAll(async () => {
    await bed?.stop();
  });

  it('the outage control and the Lambda API need the token printed in the ready line', async () => {
    expect((await control('POST', PRIMARY, 'not-the-token')).status).toBe(401);
    expect((await fetch(`${bed.runtime.endpoint}/_git-geo/regions`)).status).toBe(401);
    expect((await fetch(`${bed.runtime.endpoint}/2015-03-31/functions/x/invocations`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${bed.runtime.endpoint}/_lambda/not-the-token/2015-03-31/functions/x/invocations`, { method: 'POST' })).status).toBe(403);
    expect(await (await control('GET')).json()).toEqual({ regions: [PRIMARY, ...SECONDARIES], down: {} });
  });

  it('with the primary region down, events already queued still sync', async () => {
    // eu-west-1 falls behind: its sync stops receiving, its queue keeps the event.
    const euSync = bed.runtime.regions['eu-west-1']!.syncFunctionName;
    await bed.runtime.eventSourceMappings.setEnabledWhere((source) => source.functionName === euSync, false);
    const work = await bed.workingCopy(queued);
    await commit(work, 1, 'queued');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    expect(await bed.notifyPushes()).toEqual([202]);
    const sequence = (await eventLog().latest(queued))!.latestSequence;
    // Announced in eu-west-1 at once, though not synced: the region knows its copy is behind.
    await eventually(async () => ((await bed.runtime.registry('eu-west-1').get(queued))?.announcedSequence === sequence ? true : undefined));
    expect((await probe('eu-west-1', queued)).status).toBe(302);

    await heartbeat();
    expect(await (await control('POST', PRIMARY)).json()).toMatchObject({ region: PRIMARY, down: true });
    await expect(fetch(bed.runtime.webhookUrl, { method: 'POST', body: '{}' })).rejects.toThrow();

    await bed.runtime.eventSourceMappings.setEnabledWhere((source) => source.functionName === euSync, true);
    await converge(queued, sequence);
    expect(await regionRefs('eu-west-1', queued)).toEqual(await regionRefs('ap-southeast-2', queued));
  });

  it('clones and fetches from every secondary region keep succeeding, with the last replicated refs and no 5xx', async () => {
    // A push on the Git host whose webhook cannot be delivered: the regions cannot know of it.
    const work = await bed.workingCopy(app);
    const unannounced = await commit(work, 1, 'during-outage');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    for (const region of SECONDARIES) {
      const replicated = (await bed.runtime.registry(region).get(app))!.refs!;
      expect(replicated['refs/heads/main']).not.toBe(unannounced);
      // Served from the region's copy (whether the control plane's silence is past the loss threshold yet depends on this machine's speed).
      const read = await probe(region, app);
      expect(read.status).toBe(200);
      expect(read.headers.get('x-git-geo-region')).toBe(region);
      const clone = join(bed.root, `outage-clone-${region}`);
      await git(['clone', '-q', `${bed.runtime.regions[region]!.gitUrl}/${app}.git`, clone]);
      await git(['fsck', '--full', '--strict'], { cwd: clone });
      expect(await regionRefs(region, app)).toEqual(replicated);
      await git(['fetch', '-q', 'origin'], { cwd: clone });
    }
  });

  it('past the loss threshold reads say they are unproven; past the staleness budget the region is a read-only copy', async () => {
    // The last heartbeat the regions heard, as if it had arrived just before the outage: the clock for the thresholds starts now.
    const heardAt = new Date().toISOString();
    for (const region of SECONDARIES) expect(await announcements(region).recordHeartbeat(PRIMARY, heardAt, PRIMARY)).toBe(true);
    const at = (seconds: number): number => Date.parse(heardAt) + seconds * 1000 + 500;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, at(LOSS_SECONDS) - Date.now())));
    for (const region of SECONDARIES) {
      const response = await probe(region, app);
      expect(response.status).toBe(200);
      expect(response.headers.get('x-git-geo-freshness')).toBe('unproven');
      expect(response.headers.get('x-git-geo-control-plane-heard-at')).toBe(heardAt);
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, at(BUDGET_SECONDS) - Date.now())));
    for (const region of SECONDARIES) {
      expect((await probe(region, app)).headers.get('x-git-geo-freshness')).toBe('read-only');
      await git(['clone', '-q', `${bed.runtime.regions[region]!.gitUrl}/${app}.git`, join(bed.root, `read-only-${region}`)]);
      const push = await fetch(`${bed.runtime.regions[region]!.gitUrl}/${app}.git/info/refs?service=git-receive-pack`, { redirect: 'manual' });
      expect(push.status).toBe(403);
    }
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
  });

  it('after the control plane moves to the standby region, the lost push is recovered and a new push reaches every remaining region', async () => {
    // The standby's own heartbeats were never trusted: the regions still say the primary went quiet.
    await fireHeartbeat(STANDBY);
    expect((await probe('ap-southeast-2', app)).headers.get('x-git-geo-freshness')).toBe('read-only');

    await targetRuntime(bed.runtime);
    const result = await runCliJson<FailoverResult>('failover-control-plane', '--to-region', STANDBY, '--json');
    expect(result).toMatchObject({ toRegion: STANDBY, webhookUrl: bed.runtime.controlPlanes[STANDBY]!.webhookUrl, repositories: 2, resyncRequested: 2 });
    expect(result.regions.map((region) => region.switched)).toEqual([true, true]);
    expect(result.rtoMs).toBeGreaterThan(0);
    // The resync reads the Git host through the new control plane: the push whose webhook was lost arrives.
    await converge(app, (await eventLog(STANDBY).latest(app))!.latestSequence);
    for (const region of SECONDARIES) await expectCurrent(region, app, STANDBY);

    const work = await bed.workingCopy(app);
    await commit(work, 1, 'after-failover');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    const pushed = bed.pushes.at(-1)!;
    const delivered = await sendWebhook(result.webhookUrl, gitlabPushHook({ primaryUrl: bed.primary.url, repository: app, update: pushed.updates[0]!, token: WEBHOOK_SECRET }));
    expect(delivered.status).toBe(202);
    await converge(app, (await eventLog(STANDBY).latest(app))!.latestSequence);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
  }, 300_000);

  it('when the primary region comes back, nothing is lost or duplicated', async () => {
    expect(await (await control('DELETE', PRIMARY)).json()).toMatchObject({ region: PRIMARY, down: false });
    // The old control plane wakes up: its heartbeats are no longer trusted, its leftovers change nothing.
    await fireHeartbeat(PRIMARY);
    await heartbeat(STANDBY);
    for (const region of SECONDARIES) expect(await announcements(region).controlPlaneContact()).toMatchObject({ region: STANDBY });

    // The Git host redelivers the webhook it could not deliver during the outage, to its new URL, twice.
    const lost = bed.pushes.filter((push) => push.repository === app).at(-2)!;
    const hook = gitlabPushHook({ primaryUrl: bed.primary.url, repository: app, update: lost.updates[0]!, token: WEBHOOK_SECRET });
    const before = (await eventLog(STANDBY).latest(app))!.latestSequence;
    expect((await sendWebhook(bed.runtime.controlPlanes[STANDBY]!.webhookUrl, hook)).status).toBe(202);
    expect((await sendWebhook(bed.runtime.controlPlanes[STANDBY]!.webhookUrl, hook)).status).toBe(202);
    const after = (await eventLog(STANDBY).latest(app))!.latestSequence;
    expect(after).toBe(before + 1);
    await converge(app, after);

    const primaryRefs = Object.fromEntries([...(await listRefs(`${bed.primary.url}/${app}.git`))].filter(([name]) => name !== 'HEAD'));
    for (const region of SECONDARIES) {
      const state = (await bed.runtime.registry(region).get(app))!;
      expect(state.syncedSequence).toBe(after);
      expect(state.announcedSequence).toBe(after);
      await expectCurrent(region, app, STANDBY);
      expect(await regionRefs(region, app)).toEqual(primaryRefs);
      for (const repository of [app, queued]) expect((await bed.runtime.registry(region).get(repository))!.status).toMatch(/^(synced|verified)$/);
    }
    // Each log holds every event once, in order; the new one continues past everything the old one handed out.
    for (const region of [PRIMARY, STANDBY]) {
      const sequences: number[] = [];
      for await (const event of eventLog(region).events(app)) sequences.push(event.sequence);
      expect(sequences).toEqual([...new Set(sequences)].sort((a, b) => a - b));
    }
    const oldNewest = (await eventLog(PRIMARY).latest(app))!.latestSequence;
    const newOldest = await (async () => {
      for await (const event of eventLog(STANDBY).events(app)) return event.sequence;
      return undefined;
    })();
    expect(newOldest).toBeGreaterThan(oldNewest);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
  }, 300_000);
});
