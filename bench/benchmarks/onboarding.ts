import { cp, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseGeoConfig } from '../../cdk/GeoConfig.ts';
import { git } from '../../bin/local/git.ts';
import { listBareRepositories } from '../../bin/local/gitlabProjects.ts';
import { startLocalRuntime } from '../../bin/local/startLocalRuntime.ts';
import { withHooks } from '../../lambdas/shared/aws/HandlerHooks.ts';
import type { BackfillRunResult } from '../../lambdas/backfill/createBackfillHandler.ts';
import type { BenchBed } from '../BenchBed.ts';
import { RequestCounter } from '../RequestCounter.ts';
import { USER_AGENTS } from '../../lambdas/shared/git/userAgents.ts';

export interface OnboardingOptions {
  /** Repositories on the primary the new region onboards. */
  readonly repositories: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

export interface OnboardingResult {
  readonly region: string;
  readonly repositories: number;
  /** Repositories the region held, synced, at the end (must equal `repositories`). */
  readonly synced: number;
  /** Creating the repositories on the primary (copies of one small repository): not part of the figures. */
  readonly setupSeconds: number;
  /** From the first backfill invocation to the backfill's cursor saying complete (every sync requested). */
  readonly backfillSeconds: number;
  /** From the first backfill invocation to the last repository synced. */
  readonly totalSeconds: number;
  readonly repositoriesPerSecond: number;
  readonly backfillInvocations: number;
  /** Requests per repository, by `service.operation`, every function and poller of the new region together. */
  readonly requestsPerRepository: Readonly<Record<string, number>>;
  readonly dynamodbPerRepository: number;
  readonly s3PerRepository: number;
  readonly sqsPerRepository: number;
  /** DynamoDB Scans by any function or poller during the onboarding: must be 0. */
  readonly scans: number;
  /** Requests to the primary per repository: listing pages, discoveries and fetches. */
  readonly primaryRequestsPerRepository: number;
  readonly emulatorCpuSeconds: number | undefined;
}

const REGION = 'ca-central-1';

/**
 * A region added to a deployment whose primary already holds many repositories: its backfill
 * (on its schedule, fired here) lists the primary's projects (GitLab's API), requests a sync of
 * each, and the region's sync functions mirror them. A runtime of its own (the new region, with
 * the backfill source configured and a pace far above the default, so git-geo's own throughput is
 * what is measured), on the same primary and emulator as the other benchmarks. Every AWS request
 * of every function and poller is counted through HandlerHooks.clientPlugins; a Scan anywhere
 * fails the target.
 */
export async function onboarding(bed: BenchBed, options: OnboardingOptions): Promise<OnboardingResult> {
  const setupStarted = performance.now();
  // One small repository (3 commits), copied: the primary's root holds `onboard/<group>/repo-N.git`.
  const template = join(bed.scratch, 'onboard-template.git');
  await git(['init', '--bare', '-q', '-b', 'main', template]);
  const work = join(bed.scratch, 'onboard-work');
  await git(['clone', '-q', template, work]);
  for (let index = 0; index < 3; index++) {
    await git(['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '--allow-empty', '-m', `onboard ${index}`], { cwd: work });
  }
  await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
  for (let index = 0; index < options.repositories; index++) {
    const group = `g${String(Math.floor(index / 1000)).padStart(2, '0')}`;
    const target = join(bed.scratch, 'primary', 'onboard', group, `repo-${String(index).padStart(5, '0')}.git`);
    await mkdir(join(target, '..'), { recursive: true });
    await cp(template, target, { recursive: true });
    if ((index + 1) % 2000 === 0) options.log(`  onboarding: ${index + 1}/${options.repositories} repositories created on the primary`);
  }
  const onPrimary = (await listBareRepositories(join(bed.scratch, 'primary'))).length;
  const setupSeconds = (performance.now() - setupStarted) / 1000;

  const counter = new RequestCounter();
  const errors: unknown[] = [];
  const runtime = await startLocalRuntime({
    // A deployment of its own: the primary region and the new region only (the project's cdk.json names others).
    config: parseGeoConfig({
      stackPrefix: 'GitGeoOnboard',
      primaryRegion: 'us-east-1',
      secondaryRegions: [REGION],
      primaryUrls: [bed.primary.url],
      webhookSecretName: 'git-geo/webhook-secret',
      // Paced far above the default (5 requests a second): the figure is git-geo's own throughput.
      backfill: { kind: 'gitlab', apiUrl: bed.primary.url, requestsPerSecond: 1000, burst: 1000 },
    }),
    webhookSecret: 'bench-onboarding-secret',
    awsEndpoint: bed.awsEndpoint,
    onError: (error) => void errors.push(error),
    clientPlugins: (fn) => [counter.plugin(`${fn.logicalId}@${fn.region}`)],
  });
  try {
    withHooks(runtime.clients.region(REGION).sqs, { clientPlugins: [counter.plugin(`poller@${REGION}`)] });
    const rule = runtime.scheduler.ruleNames.find((name) => name.includes('Onboarding') && name.includes(REGION));
    if (rule === undefined) throw new Error(`no backfill schedule for ${REGION}: ${runtime.scheduler.ruleNames.join(', ')}`);
    await bed.primary.flush();
    const primaryMark = bed.primary.requests.length;
    counter.reset();
    const emulatorBefore = await bed.emulatorCpuSeconds();
    const started = performance.now();
    const deadline = Date.now() + options.timeoutMs;
    let backfillSeconds: number | undefined;
    let invocations = 0;
    // One backfill invocation at a time, beside the loop: one can run for minutes (it lists and
    // requests thousands of syncs), and the loop must still see progress and its deadline.
    let firing: Promise<void> | undefined;
    const synced = new Set<string>();
    let since = new Date(Date.now() - 60_000).toISOString();
    let lastLog = 0;
    while (Date.now() < deadline) {
      if (backfillSeconds === undefined && firing === undefined) {
        // The schedule fires every minute; firing it now (and again until complete) is the same run without the wait.
        invocations++;
        firing = runtime.scheduler.fire(rule).then(
          (results) => {
            const [result] = results as (BackfillRunResult | undefined)[];
            if (result?.backfill?.state === 'complete') backfillSeconds = (performance.now() - started) / 1000;
            firing = undefined;
          },
          (error: unknown) => {
            errors.push(error);
            firing = undefined;
          },
        );
      }
      // Synced repositories, from the status index (updated since the last look, with overlap).
      const lookedAt = new Date(Date.now() - 5000).toISOString();
      for await (const entry of runtime.registry(REGION).withStatus('synced', { updatedSince: since })) synced.add(entry.repository);
      since = lookedAt;
      if (synced.size >= onPrimary) break;
      if (performance.now() - lastLog > 30_000) {
        lastLog = performance.now();
        options.log(`  onboarding: ${synced.size}/${onPrimary} synced after ${Math.round((performance.now() - started) / 1000)} s${backfillSeconds === undefined ? '' : ` (backfill complete in ${Math.round(backfillSeconds)} s)`}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
    const totalSeconds = (performance.now() - started) / 1000;
    const emulatorAfter = await bed.emulatorCpuSeconds();
    await bed.primary.flush();
    const primaryRequests = bed.primary.requests.slice(primaryMark).filter((request) => request.userAgent === USER_AGENTS.sync || request.userAgent === USER_AGENTS.backfill).length;
    const byOperation: Record<string, number> = {};
    let scans = 0;
    for (const services of Object.values(counter.snapshot())) {
      for (const [service, operations] of Object.entries(services)) {
        for (const [operation, count] of Object.entries(operations)) {
          byOperation[`${service}.${operation}`] = (byOperation[`${service}.${operation}`] ?? 0) + count.requests;
          if (service === 'DynamoDB' && operation === 'Scan') scans += count.requests;
        }
      }
    }
    const perRepository = (total: number): number => Math.round((total / Math.max(1, synced.size)) * 100) / 100;
    const serviceTotal = (service: string): number => Object.entries(byOperation).filter(([key]) => key.startsWith(`${service}.`)).reduce((sum, [, value]) => sum + value, 0);
    if (synced.size < onPrimary) {
      for (const error of errors.slice(0, 5)) options.log(`  onboarding: runtime error: ${error instanceof Error ? error.message : String(error)}`);
    }
    return {
      region: REGION,
      repositories: onPrimary,
      synced: synced.size,
      setupSeconds: Math.round(setupSeconds * 10) / 10,
      backfillSeconds: Math.round((backfillSeconds ?? totalSeconds) * 10) / 10,
      totalSeconds: Math.round(totalSeconds * 10) / 10,
      repositoriesPerSecond: Math.round((synced.size / totalSeconds) * 100) / 100,
      backfillInvocations: invocations,
      requestsPerRepository: Object.fromEntries(Object.entries(byOperation).sort(([, a], [, b]) => b - a).map(([key, total]) => [key, perRepository(total)])),
      dynamodbPerRepository: perRepository(serviceTotal('DynamoDB')),
      s3PerRepository: perRepository(serviceTotal('S3')),
      sqsPerRepository: perRepository(serviceTotal('SQS')),
      scans,
      primaryRequestsPerRepository: perRepository(primaryRequests),
      emulatorCpuSeconds: emulatorBefore === undefined || emulatorAfter === undefined ? undefined : Math.round((emulatorAfter - emulatorBefore) * 10) / 10,
    };
  } finally {
    await runtime.stop();
  }
}
