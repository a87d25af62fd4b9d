import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GeoConfig } from '../../cdk/GeoConfig.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { generateRepository } from '../local/generateRepository.ts';
import { git } from '../local/git.ts';
import { gitlabPushHook, sendWebhook } from '../local/gitlabPushHook.ts';
import { isPackFetch, startGitServer, type GitServer } from '../local/startGitServer.ts';
import { regionalOverrideCopies } from '../local/regionalOverrideCopies.ts';
import { startLocalRuntime, type LocalRuntime } from '../local/startLocalRuntime.ts';
import { waitForConvergence } from '../local/waitForConvergence.ts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { ChangePublisher } from '../../lambdas/shared/events/ChangePublisher.ts';
import { PrimaryOverrideStore } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import { hostApi } from './HostApi.ts';
import { initialPush } from './initialPush.ts';
import { promoteRegion } from './promoteRegion.ts';
import { rpoReport } from './rpoReport.ts';
import { runPool } from './runPool.ts';
import { startPushStorm, type AcknowledgedPush } from './pushStorm.ts';

const SECRET = 'drill-webhook-secret';
const PROMOTER = { username: 'drill', password: 'drill-push-secret' };

export interface DrillOptions {
  readonly config: GeoConfig;
  readonly repositories: number;
  /** How long the push storm runs before the primary is killed. */
  readonly stormSeconds: number;
  /** The region promoted (default: the first secondary region). */
  readonly region?: string;
  /** Commits of generated history in each repository before the storm. @default 1 */
  readonly commits?: number;
  /** After the failover, bring the old primary back and fail back to it. @default true */
  readonly failback?: boolean;
  readonly log?: (line: string) => void;
}

export interface DrillReport {
  readonly repositories: number;
  readonly region: string;
  readonly pushesAcknowledged: number;
  /** Pushes the old primary acknowledged whose commit the new primary does not have. */
  readonly pushesLost: number;
  /** From the oldest lost push's acknowledgement to the kill: the window of lost writes (0 when none). */
  readonly rpoSeconds: number;
  /** Refs the promoted region lacked, by the RPO report taken before promotion. */
  readonly refsAtRiskBeforePromotion: number;
  /** From the kill until every repository could be cloned and pushed at the new primary. */
  readonly rtoSeconds: number;
  readonly promotionSeconds: number;
  readonly repositoriesWritable: number;
  /** What the promotion pushed to the fresh host: a full copy of every repository. */
  readonly fullCopyBytes: number;
  /** What the other regions fetched from the new primary until they matched it (pack bytes served). */
  readonly afterPromotionFetchedBytes: number;
  /** Failback: what was pushed to the returning old primary, and what the regions then fetched from it. */
  readonly failbackPushedBytes?: number;
  readonly afterFailbackFetchedBytes?: number;
  readonly failbackSeconds?: number;
}

/**
 * A disaster-recovery exercise on the embedded default: a primary with N repositories under
 * continuous pushes (each push's webhook sent as it lands, as a host does), the primary killed in
 * the middle of the storm, the region promoted onto a fresh git server. Measures RTO (kill until
 * every repository can be cloned and pushed at the new primary) and RPO (pushes the old primary
 * acknowledged that the new one lacks).
 */
export async function runDrill(options: DrillOptions): Promise<DrillReport> {
  const log = options.log ?? (() => undefined);
  const root = await mkdtemp(join(tmpdir(), 'git-geo-drill-'));
  const cleanups: (() => Promise<void>)[] = [() => rm(root, { recursive: true, force: true })];
  try {
    const webhooks = new Set<Promise<unknown>>();
    let errors = 0;
    // Set once both are up: pushes before that (none) would send no webhook.
    const live: { runtime?: LocalRuntime; primary?: GitServer } = {};
    const primary = await startGitServer({
      root: join(root, 'primary'),
      onPush: (repository, updates) => {
        if (live.runtime === undefined || live.primary === undefined) return;
        for (const update of updates) {
          const sent = sendWebhook(live.runtime.webhookUrl, gitlabPushHook({ primaryUrl: live.primary.url, repository, update, token: SECRET })).catch(() => undefined);
          webhooks.add(sent);
          void sent.finally(() => webhooks.delete(sent));
        }
      },
    });
    cleanups.push(() => primary.stop());
    const runtime = await startLocalRuntime({
      // The drill's git servers need no read credentials; syncs that failed against the killed primary retry
      // after 1, 2, 4 ... s rather than the default 10, 20, 40 ... s, so the regions follow the new one soon.
      config: { ...options.config, primaryUrls: [primary.url], primaryOverrideCacheSeconds: 1, primaryCredentialsSecretName: undefined, promotionCredentialsSecretName: undefined, syncRetryBaseSeconds: 1,
        // Its own webhook secret: runtimes sharing one emulator must not overwrite each other's.
        webhookSecretName: `git-geo/drill-webhook-${randomBytes(4).toString('hex')}`,
      },
      webhookSecret: SECRET,
      // Failures inside functions are expected once the primary is killed; the first few are shown.
      onError: (error) => void (errors++ < 5 && log(`runtime: ${error instanceof Error ? error.message : String(error)}`)),
    });
    cleanups.push(() => runtime.stop());
    live.runtime = runtime;
    live.primary = primary;
    const region = options.region ?? Object.keys(runtime.regions)[0]!;
    const repositories = Array.from({ length: options.repositories }, (_, index) => parseRepositoryPath(`drill/repo-${index}`));
    const work = new Map<RepositoryPath, string>();
    log(`primary ${primary.url}, ${repositories.length} repositories, regions ${Object.keys(runtime.regions).join(', ')}`);
    for (const repository of repositories) {
      const bare = join(root, 'primary', `${repository}.git`);
      await git(['init', '--bare', '-q', '-b', 'main', bare]);
      if ((options.commits ?? 1) > 1) await generateRepository(bare, { commits: options.commits!, seed: repositories.indexOf(repository) + 1 });
      work.set(repository, await initialPush(root, primary.url, repository));
    }
    await Promise.all([...webhooks]);
    for (const repository of repositories) await waitForConvergence({ runtime, repository, primaryUrl: primary.url, timeoutMs: 120_000 });
    log('every region holds every repository; push storm starts');

    const storm = startPushStorm(work, (repository, error) => log(`push to ${repository} failed during the storm: ${error.message.split('\n')[0]}`));
    const { acknowledged } = storm;
    await new Promise((resolve) => setTimeout(resolve, options.stormSeconds * 1000));
    // On a slow machine: at least one acknowledged push per repository before the kill, so there is something to lose.
    for (const until = Date.now() + 60_000; acknowledged.length < repositories.length && Date.now() < until; ) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await primary.stop();
    const killedAt = Date.now();
    await storm.stop();
    log(`primary killed after ${acknowledged.length} acknowledged pushes`);

    const clients = runtime.clients.region(runtime.primary.region);
    const db = DynamoDBDocumentClient.from(clients.dynamodb, { marshallOptions: { removeUndefinedValues: true } });
    const eventLog = new EventLog(db, runtime.primary.eventLogTable);
    const registry = runtime.registry(region);
    const store = runtime.mirrors(region);
    const before = await rpoReport({ region, eventLog, store, registry, refNamespaces: runtime.config.refNamespaces });
    log(`RPO report for ${region}: ${before.atRisk} repositories, ${before.refsAtRisk} refs behind the last known state`);

    const fresh = await startGitServer({
      root: join(root, 'fresh'),
      autoCreate: true,
      users: { [PROMOTER.username]: PROMOTER.password },
      // The new primary sends its webhooks as the old one did.
      onPush: (repository, updates) => {
        for (const update of updates) {
          const sent = sendWebhook(runtime.webhookUrl, gitlabPushHook({ primaryUrl: fresh.url, repository, update, token: SECRET })).catch(() => undefined);
          webhooks.add(sent);
          void sent.finally(() => webhooks.delete(sent));
        }
      },
    });
    cleanups.push(() => fresh.stop());
    const promotionStarted = Date.now();
    // Promotion and failback are the same operation, in opposite directions.
    const promote = async (to: string, previousUrl: string, host: ReturnType<typeof hostApi>, credentials: typeof PROMOTER | undefined, what: string): Promise<void> => {
      const outcome = await promoteRegion({
        region,
        to,
        previousUrl,
        store,
        registry,
        eventLog,
        publisher: new ChangePublisher(clients.sns, runtime.primary.topicArn),
        overrides: new PrimaryOverrideStore(db, runtime.primary.eventLogTable, 0, regionalOverrideCopies(runtime)),
        refNamespaces: runtime.config.refNamespaces,
        host,
        ...(credentials === undefined ? {} : { credentials }),
        operator: 'git-geo drill',
        planned: false,
        scratch: root,
        concurrency: 4,
      });
      if (outcome.failed.length > 0) throw new Error(`${what} failed for ${outcome.failed.map((entry) => `${entry.repository}: ${entry.error}`).join('; ')}`);
    };
    await promote(fresh.url, primary.url, hostApi('git-geo-local', fresh.url, PROMOTER), PROMOTER, 'promotion');
    const promotionSeconds = (Date.now() - promotionStarted) / 1000;
    log(`promoted ${region} onto ${fresh.url} in ${promotionSeconds.toFixed(1)} s`);

    const pushUrl = fresh.url.replace('http://', `http://${PROMOTER.username}:${PROMOTER.password}@`);
    const writable = await runPool(repositories, 4, async (repository) => {
      const dir = join(root, 'after', repository);
      await git(['clone', '-q', `${fresh.url}/${repository}.git`, dir]);
      await writeFile(join(dir, 'after-failover.txt'), 'written at the new primary\n');
      await git(['add', '.'], { cwd: dir });
      await git(['commit', '-q', '-m', 'after failover'], { cwd: dir });
      await git(['push', '-q', pushUrl.concat(`/${repository}.git`), 'HEAD:main'], { cwd: dir });
      return true;
    });
    const rtoSeconds = (Date.now() - killedAt) / 1000;

    const lost: AcknowledgedPush[] = [];
    for (const push of acknowledged) {
      try {
        await git(['cat-file', '-e', `${push.commit}^{commit}`], { cwd: join(root, 'fresh', `${push.repository}.git`) });
      } catch {
        lost.push(push);
      }
    }
    const oldestLost = Math.min(...lost.map((push) => push.at));
    const received = (server: GitServer, from: number): number =>
      server.requests.slice(from).filter((request) => request.service === 'git-receive-pack' && request.method === 'POST').reduce((sum, request) => sum + request.requestBytes, 0);
    const served = (server: GitServer, from: number): number =>
      server.requests.slice(from).filter((request) => isPackFetch(request) && request.userAgent?.startsWith('git-geo')).reduce((sum, request) => sum + request.bytes, 0);
    const fullCopyBytes = received(fresh, 0);

    // Every region (the promoted one included) follows the new primary, fetching only what differs.
    await Promise.all([...webhooks]);
    for (const repository of repositories) await waitForConvergence({ runtime, repository, primaryUrl: fresh.url, timeoutMs: 120_000 });
    const afterPromotionFetchedBytes = served(fresh, 0);
    log(`every region follows the new primary; they fetched ${afterPromotionFetchedBytes} bytes from it (a full copy is ${fullCopyBytes})`);

    let failback: Pick<DrillReport, 'failbackPushedBytes' | 'afterFailbackFetchedBytes' | 'failbackSeconds'> = {};
    if (options.failback ?? true) {
      await primary.start();
      const from = primary.requests.length;
      const started = Date.now();
      await promote(primary.url, fresh.url, hostApi('none', primary.url, undefined), undefined, 'failback');
      await Promise.all([...webhooks]);
      for (const repository of repositories) await waitForConvergence({ runtime, repository, primaryUrl: primary.url, timeoutMs: 120_000 });
      failback = { failbackPushedBytes: received(primary, from), afterFailbackFetchedBytes: served(primary, from), failbackSeconds: (Date.now() - started) / 1000 };
      log(`failed back to ${primary.url}: pushed ${failback.failbackPushedBytes} bytes, regions fetched ${failback.afterFailbackFetchedBytes}`);
    }
    return {
      repositories: repositories.length,
      region,
      pushesAcknowledged: acknowledged.length,
      pushesLost: lost.length,
      rpoSeconds: lost.length === 0 ? 0 : Math.max(0, (killedAt - oldestLost) / 1000),
      refsAtRiskBeforePromotion: before.refsAtRisk,
      rtoSeconds,
      promotionSeconds,
      repositoriesWritable: writable.filter(Boolean).length,
      fullCopyBytes,
      afterPromotionFetchedBytes,
      ...failback,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/** The drill's figures, as `git-geo drill` prints them. */
export function formatDrillReport(report: DrillReport): string {
  return [
    `disaster-recovery drill: ${report.repositories} repositories, region ${report.region} promoted onto a fresh git server`,
    `  RTO ${report.rtoSeconds.toFixed(1)} s  (kill -> every repository cloned and pushed at the new primary; promotion ${report.promotionSeconds.toFixed(1)} s)`,
    `  RPO ${report.pushesLost} of ${report.pushesAcknowledged} acknowledged pushes lost, window ${report.rpoSeconds.toFixed(1)} s  (RPO report before promotion: ${report.refsAtRiskBeforePromotion} refs behind)`,
    `  ${report.repositoriesWritable}/${report.repositories} repositories writable at the new primary`,
    `  promotion pushed ${report.fullCopyBytes} bytes (a full copy); the regions then fetched ${report.afterPromotionFetchedBytes} bytes from the new primary`,
    ...(report.failbackPushedBytes === undefined
      ? []
      : [`  failback pushed ${report.failbackPushedBytes} bytes to the old primary in ${report.failbackSeconds!.toFixed(1)} s; the regions fetched ${report.afterFailbackFetchedBytes} bytes`]),
  ].join('\n');
}
