import { join } from 'node:path';
import { generateRepository } from '../../bin/local/generateRepository.ts';
import { git } from '../../bin/local/git.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { BenchBed } from '../BenchBed.ts';
import { newObjects } from '../newObjects.ts';
import { LIST_OPERATIONS, type RequestCounts } from '../RequestCounter.ts';
import { distribution, ratio, type Distribution } from '../stats.ts';
import { isPackFetch } from '../../bin/local/startGitServer.ts';

export interface LagOptions {
  readonly pushes: number;
  /** Commits in the repository before the measured pushes. */
  readonly historyCommits: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

export interface PerOperation {
  /** Requests per incremental sync per region, by operation. */
  readonly [operation: string]: number;
}

export interface CostResult {
  readonly syncs: number;
  readonly s3: { readonly total: number; readonly list: number; readonly byOperation: PerOperation };
  readonly dynamodb: { readonly total: number; readonly byOperation: PerOperation };
  readonly other: PerOperation;
  /** What one incremental sync moved in one region, in bytes. */
  readonly bytes: {
    readonly newObjects: number;
    readonly newObjectCount: number;
    readonly fromPrimary: number;
    readonly toS3: number;
    readonly fromS3: number;
    readonly dynamodb: number;
    /** The native `git fetch` of the same change: bytes it downloaded. */
    readonly nativeFetch: number;
  };
  readonly notify: { readonly byOperation: PerOperation };
  /** Time one sync spent waiting on each service (requests of a sync run one after the other), ms. */
  readonly waitMs: { readonly s3: number; readonly dynamodb: number };
}

export interface LagResult {
  readonly pushes: number;
  readonly regions: number;
  /** Push returned to synced in every region, ms. */
  readonly lagMs: Distribution;
  /** Native `git fetch` of the same change into a local mirror, ms. */
  readonly nativeFetchMs: Distribution;
  readonly ratioP50: number | undefined;
  readonly ratioP95: number | undefined;
  /** Where the slowest region's time went, p50 of each phase, ms. */
  readonly phasesP50: {
    readonly pushToWebhook: number;
    readonly webhookToSyncStart: number;
    readonly syncStartToSynced: number;
  };
  readonly cost: CostResult;
  /** Requests the local pollers (Lambda's event source mappings) made per push, all regions. */
  readonly pollerRequestsPerPush: number;
  /** CPU seconds per push: the embedded emulator's, and this process's (functions, pollers, git server). */
  readonly cpuSecondsPerPush: { readonly emulator: number | undefined; readonly bench: number };
}

function perSync(counts: readonly RequestCounts[], scopePrefix: string, service: string, syncs: number): Record<string, number> {
  const totals: Record<string, number> = {};
  for (const snapshot of counts) {
    for (const [scope, services] of Object.entries(snapshot)) {
      if (!scope.startsWith(scopePrefix)) continue;
      for (const [operation, count] of Object.entries(services[service] ?? {})) totals[operation] = (totals[operation] ?? 0) + count.requests;
    }
  }
  return Object.fromEntries(Object.entries(totals).map(([operation, total]) => [operation, Math.round((total / syncs) * 100) / 100]));
}

function bytesPerSync(counts: readonly RequestCounts[], service: string, direction: 'bytesSent' | 'bytesReceived' | 'milliseconds', syncs: number): number {
  let total = 0;
  for (const snapshot of counts) {
    for (const [scope, services] of Object.entries(snapshot)) {
      if (!scope.startsWith('sync@')) continue;
      for (const count of Object.values(services[service] ?? {})) total += count[direction];
    }
  }
  return Math.round(total / syncs);
}

const sum = (values: Record<string, number>): number => Math.round(Object.values(values).reduce((total, value) => total + value, 0) * 100) / 100;

/**
 * Replication lag, and the cost of each incremental sync. Each push is made on the primary
 * with `git push`, its webhook sent, and the clock runs from the push returning to the
 * `lastSyncedAt` every region's registry records. Then a native `git fetch` brings the same
 * change into a local mirror: the baseline. Every AWS request the functions make on the way
 * is counted by operation.
 */
export async function replicationLag(bed: BenchBed, options: LagOptions): Promise<LagResult> {
  const repository = parseRepositoryPath('bench/lag');
  const primaryDir = await bed.createRepository(repository);
  const work = join(bed.scratch, 'lag-work.git');
  await git(['init', '--bare', '-q', '-b', 'main', work]);
  await generateRepository(work, { commits: options.historyCommits, files: 60 });
  await git(['push', '-q', bed.repositoryUrl(repository), 'main'], { cwd: work });
  let head = (await git(['rev-parse', 'main'], { cwd: work })).trim();
  const first = await bed.notify(repository, { ref: 'refs/heads/main', before: '0'.repeat(40), after: head });
  await bed.waitForSync(repository, first, options.timeoutMs);
  const mirror = join(bed.scratch, 'lag-native-mirror.git');
  await git(['clone', '-q', '--mirror', bed.repositoryUrl(repository), mirror]);

  const emulatorBefore = await bed.emulatorCpuSeconds();
  const cpuBefore = process.cpuUsage();
  const lags: number[] = [];
  const fetches: number[] = [];
  const phases = { pushToWebhook: [] as number[], webhookToSyncStart: [] as number[], syncStartToSynced: [] as number[] };
  const counts: RequestCounts[] = [];
  let fromPrimary = 0;
  let nativeBytes = 0;
  let newBytes = 0;
  let newCount = 0;
  for (let i = 0; i < options.pushes; i++) {
    await generateRepository(work, { commits: 1, files: 60, parent: 'refs/heads/main^0', seed: 1000 + i, startAt: 1_800_000_000 + i * 600 });
    const after = (await git(['rev-parse', 'main'], { cwd: work })).trim();
    bed.counter.reset();
    await bed.primary.flush();
    const mark = bed.primary.requests.length;
    await git(['push', '-q', bed.repositoryUrl(repository), 'main'], { cwd: work });
    const pushedAt = Date.now();
    const sequence = await bed.notify(repository, { ref: 'refs/heads/main', before: head, after });
    const states = await bed.waitForSync(repository, sequence, options.timeoutMs);
    counts.push(bed.counter.snapshot());
    await bed.primary.flush();
    fromPrimary += bed.primary.requests.slice(mark).filter((request) => isPackFetch(request)).reduce((total, request) => total + request.bytes, 0);
    const slowest = [...states.values()].reduce((a, b) => (Date.parse(a.lastSyncedAt!) >= Date.parse(b.lastSyncedAt!) ? a : b));
    const syncedAt = Date.parse(slowest.lastSyncedAt!);
    lags.push(syncedAt - pushedAt);
    phases.pushToWebhook.push(Date.parse(slowest.lastEventReceivedAt!) - pushedAt);
    phases.webhookToSyncStart.push(Date.parse(slowest.syncStartedAt!) - Date.parse(slowest.lastEventReceivedAt!));
    phases.syncStartToSynced.push(syncedAt - Date.parse(slowest.syncStartedAt!));

    await bed.primary.flush();
    const fetchMark = bed.primary.requests.length;
    const started = performance.now();
    await git(['fetch', '-q', 'origin'], { cwd: mirror });
    fetches.push(performance.now() - started);
    await bed.primary.flush();
    nativeBytes += bed.primary.requests.slice(fetchMark).reduce((total, request) => total + request.bytes, 0);
    const objects = await newObjects(primaryDir, after, head);
    newBytes += objects.bytes;
    newCount += objects.count;
    head = after;
    if ((i + 1) % 10 === 0 || i + 1 === options.pushes) options.log(`  lag: ${i + 1}/${options.pushes} pushes, last ${lags.at(-1)} ms (native fetch ${Math.round(fetches.at(-1)!)} ms)`);
  }

  const emulatorAfter = await bed.emulatorCpuSeconds();
  const cpuUsed = process.cpuUsage(cpuBefore);
  const regions = bed.regions.length;
  const syncs = options.pushes * regions;
  const pollerRequests = counts.reduce((total, snapshot) => total + Object.entries(snapshot).filter(([scope]) => scope.startsWith('poller@')).reduce((sum, [, services]) => sum + Object.values(services).reduce((all, operations) => all + Object.values(operations).reduce((n, count) => n + count.requests, 0), 0), 0), 0);
  const s3 = perSync(counts, 'sync@', 'S3', syncs);
  const dynamodb = perSync(counts, 'sync@', 'DynamoDB', syncs);
  const other = Object.fromEntries(
    ['SQS', 'SNS', 'SecretsManager'].flatMap((service) => Object.entries(perSync(counts, 'sync@', service, syncs)).map(([operation, value]) => [`${service}.${operation}`, value])),
  );
  const lag = distribution(lags);
  const native = distribution(fetches.map(Math.round));
  return {
    pushes: options.pushes,
    regions,
    lagMs: lag,
    nativeFetchMs: native,
    ratioP50: ratio(lag.p50, native.p50),
    ratioP95: ratio(lag.p95, native.p95),
    phasesP50: {
      pushToWebhook: distribution(phases.pushToWebhook).p50,
      webhookToSyncStart: distribution(phases.webhookToSyncStart).p50,
      syncStartToSynced: distribution(phases.syncStartToSynced).p50,
    },
    pollerRequestsPerPush: Math.round((pollerRequests / options.pushes) * 10) / 10,
    cpuSecondsPerPush: {
      emulator: emulatorBefore === undefined || emulatorAfter === undefined ? undefined : Math.round(((emulatorAfter - emulatorBefore) / options.pushes) * 100) / 100,
      bench: Math.round(((cpuUsed.user + cpuUsed.system) / 1e6 / options.pushes) * 100) / 100,
    },
    cost: {
      syncs,
      s3: { total: sum(s3), list: sum(Object.fromEntries(Object.entries(s3).filter(([operation]) => LIST_OPERATIONS.has(operation)))), byOperation: s3 },
      dynamodb: { total: sum(dynamodb), byOperation: dynamodb },
      other,
      bytes: {
        newObjects: Math.round(newBytes / options.pushes),
        newObjectCount: Math.round((newCount / options.pushes) * 10) / 10,
        fromPrimary: Math.round(fromPrimary / syncs),
        toS3: bytesPerSync(counts, 'S3', 'bytesSent', syncs),
        fromS3: bytesPerSync(counts, 'S3', 'bytesReceived', syncs),
        dynamodb: bytesPerSync(counts, 'DynamoDB', 'bytesSent', syncs) + bytesPerSync(counts, 'DynamoDB', 'bytesReceived', syncs),
        nativeFetch: Math.round(nativeBytes / options.pushes),
      },
      waitMs: { s3: bytesPerSync(counts, 'S3', 'milliseconds', syncs), dynamodb: bytesPerSync(counts, 'DynamoDB', 'milliseconds', syncs) },
      notify: { byOperation: { ...perSync(counts, 'notify@', 'DynamoDB', options.pushes), ...Object.fromEntries(Object.entries(perSync(counts, 'notify@', 'SNS', options.pushes)).map(([operation, value]) => [`SNS.${operation}`, value])) } },
    },
  };
}
