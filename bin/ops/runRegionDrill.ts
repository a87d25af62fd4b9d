import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GeoConfig } from '../../cdk/GeoConfig.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { git } from '../local/git.ts';
import { gitlabPushHook, sendWebhook } from '../local/gitlabPushHook.ts';
import { startGitServer } from '../local/startGitServer.ts';
import { startLocalRuntime } from '../local/startLocalRuntime.ts';
import { waitForConvergence } from '../local/waitForConvergence.ts';
import { failoverControlPlane } from './failoverControlPlane.ts';
import { initialPush } from './initialPush.ts';
import { runPool } from './runPool.ts';
import { startPushStorm } from './pushStorm.ts';

const SECRET = 'region-drill-webhook-secret';

export interface RegionDrillOptions {
  readonly config: GeoConfig;
  /** The region taken offline: the primary region (the control plane's home). */
  readonly killRegion: string;
  readonly repositories: number;
  /** Seconds of pushes (and reads) before the region is killed, and again after the control plane moved. */
  readonly stormSeconds: number;
  /** Seconds the operator takes to decide on the failover after the outage began (reads keep going meanwhile). */
  readonly decisionSeconds: number;
  readonly log?: (line: string) => void;
}

export interface ReadAvailability {
  readonly made: number;
  /** Answered 200 by the region from its own copy. */
  readonly served: number;
  /** Sent on to the Git host (3xx): answered, not from the region. */
  readonly redirected: number;
  /** 5xx, or no answer. */
  readonly failed: number;
}

export interface RegionDrillReport {
  readonly killedRegion: string;
  readonly standbyRegion: string;
  readonly repositories: number;
  /** Reads (info/refs through each secondary region's Git URL) while the region was down. */
  readonly readsDuringOutage: ReadAvailability;
  /** From the kill until every surviving region heard the new control plane (includes `decisionSeconds`). */
  readonly controlPlaneRtoSeconds: number;
  /** What `git-geo failover-control-plane` itself took, to every region hearing the new control plane. */
  readonly failoverCommandSeconds: number;
  readonly pushesAcknowledged: number;
  /** Pushes whose webhook was lost with the control plane. */
  readonly webhooksLost: number;
  /** Pushes no surviving region holds once the regions converged after the failover: RPO in pushes. */
  readonly pushesLost: number;
  /** After the region came back: every surviving region still equals the Git host. */
  readonly consistentAfterReturn: boolean;
}

/**
 * A whole-region drill on this machine: the Git host stays up, the primary AWS region (notify,
 * event log, topic) is taken offline in the local runtime under a push storm while every secondary
 * region keeps being read; after `decisionSeconds` the control plane moves to the standby region;
 * the storm continues through it; then the region comes back.
 */
export async function runRegionDrill(options: RegionDrillOptions): Promise<RegionDrillReport> {
  const log = options.log ?? (() => undefined);
  if (options.killRegion !== options.config.primaryRegion) throw new Error(`--kill-region takes the primary region (${options.config.primaryRegion}): the control plane's home`);
  const standbyRegion = options.config.standbyControlPlaneRegion ?? options.config.secondaryRegions[0]!;
  const root = await mkdtemp(join(tmpdir(), 'git-geo-region-drill-'));
  const cleanups: (() => Promise<void>)[] = [() => rm(root, { recursive: true, force: true })];
  try {
    let webhookUrl = '';
    let webhooksLost = 0;
    const webhooks = new Set<Promise<unknown>>();
    const host = await startGitServer({
      root: join(root, 'host'),
      onPush: (repository, updates) => {
        if (webhookUrl === '') return;
        for (const update of updates) {
          const sent = sendWebhook(webhookUrl, gitlabPushHook({ primaryUrl: host.url, repository, update, token: SECRET }))
            .then((answer) => void (answer.status >= 300 && webhooksLost++))
            .catch(() => void webhooksLost++);
          webhooks.add(sent);
          void sent.finally(() => webhooks.delete(sent));
        }
      },
    });
    cleanups.push(() => host.stop());
    const runtime = await startLocalRuntime({
      config: {
        ...options.config,
        primaryUrls: [host.url],
        standbyControlPlaneRegion: standbyRegion,
        primaryCredentialsSecretName: undefined,
        promotionCredentialsSecretName: undefined,
        syncRetryBaseSeconds: 1,
        webhookSecretName: `git-geo/region-drill-${randomBytes(4).toString('hex')}`,
      },
      webhookSecret: SECRET,
      onError: () => undefined,
    });
    cleanups.push(() => runtime.stop());
    webhookUrl = runtime.webhookUrl;
    const secondaries = Object.keys(runtime.regions);
    const repositories = Array.from({ length: options.repositories }, (_, index) => parseRepositoryPath(`region-drill/repo-${index}`));
    const work = new Map<RepositoryPath, string>();
    for (const repository of repositories) {
      await git(['init', '--bare', '-q', '-b', 'main', join(root, 'host', `${repository}.git`)]);
      work.set(repository, await initialPush(root, host.url, repository));
    }
    await Promise.all([...webhooks]);
    for (const repository of repositories) await waitForConvergence({ runtime, repository, primaryUrl: host.url, timeoutMs: 120_000 });
    log(`${repositories.length} repositories in ${secondaries.join(', ')}; storm and readers start`);

    const storm = startPushStorm(work, (repository, error) => log(`push to ${repository} failed during the storm: ${error.message.split('\n')[0]}`));
    const { acknowledged } = storm;
    let outage = false;
    let reading = true;
    const reads: { made: number; served: number; redirected: number; failed: number } = { made: 0, served: 0, redirected: 0, failed: 0 };
    const readers = runPool(secondaries, secondaries.length, async (region) => {
      for (let i = 0; reading; i++) {
        const repository = repositories[i % repositories.length]!;
        let status = 0;
        try {
          status = (await fetch(`${runtime.regions[region]!.gitUrl}/${repository}.git/info/refs`, { redirect: 'manual' })).status;
        } catch {
          status = 0;
        }
        if (outage) {
          reads.made++;
          if (status === 200) reads.served++;
          else if (status >= 300 && status < 400) reads.redirected++;
          else reads.failed++;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });

    await new Promise((resolve) => setTimeout(resolve, options.stormSeconds * 1000));
    runtime.outage.takeDown(options.killRegion);
    const killedAt = Date.now();
    outage = true;
    log(`${options.killRegion} is down; the operator decides in ${options.decisionSeconds} s`);
    await new Promise((resolve) => setTimeout(resolve, options.decisionSeconds * 1000));

    const plane = runtime.controlPlanes[standbyRegion]!;
    const failover = await failoverControlPlane({
      target: { region: standbyRegion, ...plane, db: DynamoDBDocumentClient.from(runtime.clients.region(standbyRegion).dynamodb), sns: runtime.clients.region(standbyRegion).sns },
      regions: secondaries.map((region) => ({ region, registryTable: runtime.regions[region]!.registryTable, db: DynamoDBDocumentClient.from(runtime.clients.region(region).dynamodb) })),
      resync: true,
      log,
    });
    if (failover.rtoMs === undefined) throw new Error('the control plane did not reach every surviving region');
    const controlPlaneRtoSeconds = (Date.parse(failover.startedAt) + failover.rtoMs - killedAt) / 1000;
    // The operator points the Git host's webhooks at the new control plane.
    webhookUrl = failover.webhookUrl;
    outage = false;
    log(`control plane in ${standbyRegion} after ${controlPlaneRtoSeconds.toFixed(1)} s; storm continues through it`);
    await new Promise((resolve) => setTimeout(resolve, options.stormSeconds * 1000));
    await storm.stop();
    reading = false;
    await readers;
    await Promise.all([...webhooks]);
    for (const repository of repositories) await waitForConvergence({ runtime, repository, primaryUrl: host.url, timeoutMs: 180_000 });

    // A push is lost when some surviving region's main does not contain it.
    const tips = new Map<string, string | undefined>();
    for (const repository of repositories) {
      for (const region of secondaries) tips.set(`${region} ${repository}`, (await runtime.registry(region).get(repository))?.refs?.['refs/heads/main']);
    }
    let pushesLost = 0;
    for (const push of acknowledged) {
      const gitDir = join(root, 'host', `${push.repository}.git`);
      const held = await Promise.all(
        secondaries.map(async (region) => {
          const tip = tips.get(`${region} ${push.repository}`);
          return tip !== undefined && (await git(['--git-dir', gitDir, 'merge-base', '--is-ancestor', push.commit, tip]).then(() => true, () => false));
        }),
      );
      if (held.includes(false)) pushesLost++;
    }

    runtime.outage.bringBack(options.killRegion);
    log(`${options.killRegion} is back`);
    let consistentAfterReturn = true;
    for (const repository of repositories) {
      try {
        await waitForConvergence({ runtime, repository, primaryUrl: host.url, timeoutMs: 60_000 });
      } catch {
        consistentAfterReturn = false;
      }
    }
    return {
      killedRegion: options.killRegion,
      standbyRegion,
      repositories: repositories.length,
      readsDuringOutage: reads,
      controlPlaneRtoSeconds,
      failoverCommandSeconds: failover.rtoMs / 1000,
      pushesAcknowledged: acknowledged.length,
      webhooksLost,
      pushesLost,
      consistentAfterReturn,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

export function formatRegionDrillReport(report: RegionDrillReport): string {
  const reads = report.readsDuringOutage;
  return [
    `region drill: ${report.killedRegion} (the control plane's region) taken offline, control plane moved to ${report.standbyRegion}; ${report.repositories} repositories`,
    `  reads during the outage: ${reads.served}/${reads.made} served by the regions (${reads.redirected} redirected to the Git host, ${reads.failed} failed)`,
    `  control plane RTO ${report.controlPlaneRtoSeconds.toFixed(1)} s (kill -> every region hears the new control plane; the failover command itself ${report.failoverCommandSeconds.toFixed(1)} s)`,
    `  RPO ${report.pushesLost} pushes lost of ${report.pushesAcknowledged} acknowledged (${report.webhooksLost} webhooks lost with the control plane, recovered by the failover's resync)`,
    `  after the region came back: ${report.consistentAfterReturn ? 'every region equals the Git host' : 'NOT every region equals the Git host'}`,
  ].join('\n');
}
