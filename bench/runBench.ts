import Table from 'cli-table3';
import { mkdir, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../cdk/constructs/GeoFunction.ts';
import { BenchBed } from './BenchBed.ts';
import { fanOut, type FanOutResult } from './benchmarks/fanOut.ts';
import { initialSync, type InitialSyncResult } from './benchmarks/initialSync.ts';
import { regionReads, type ReadOperation, type ReadSource, type RegionReadsResult } from './benchmarks/regionReads.ts';
import { lfsReplication, type LfsReplicationResult } from './benchmarks/lfsReplication.ts';
import { packCount, type PackCountResult } from './benchmarks/packCount.ts';
import { coldStart, type ColdStartResult } from './benchmarks/coldStart.ts';
import { onboarding, type OnboardingResult } from './benchmarks/onboarding.ts';
import { manyRefsSync, type ManyRefsSyncResult } from './benchmarks/manyRefsSync.ts';
import { replicationLag, type LagResult } from './benchmarks/replicationLag.ts';
import { machineInfo, type MachineInfo } from './machineInfo.ts';
import { existsSync } from 'node:fs';
import { ratio } from './stats.ts';

export const BENCHMARKS = ['lag', 'initial', 'fanout', 'lfs', 'reads', 'packs', 'cold', 'onboard', 'manyrefs'] as const;
export type BenchmarkName = (typeof BENCHMARKS)[number];
/** Run only when named (`--only`): hours for 10,000 repositories, minutes for 100,000 refs. */
const ON_REQUEST: readonly BenchmarkName[] = ['onboard', 'manyrefs'];

export interface BenchOptions {
  readonly quick: boolean;
  /** Input of the initial sync: a local path or URL; undefined generates one. */
  readonly repo?: string;
  /** An AWS endpoint (LocalStack, moto elsewhere); undefined starts an embedded moto. */
  readonly awsEndpoint?: string;
  /** Which benchmarks to run (cost per sync is measured during the lag benchmark). */
  readonly only?: readonly BenchmarkName[];
  /** Fetch engines the initial sync runs git-geo with. */
  readonly engines?: readonly string[];
  /** Initial sync of a generated repository of this many MiB of incompressible blobs. */
  readonly bigRepoMiB?: number;
  /** Syncs of one repository the pack-count benchmark runs. */
  readonly packSyncs?: number;
  readonly lagPushes?: number;
  readonly fanOutPushes?: number;
  readonly fanOutRepositories?: number;
  /** Repositories the onboarding benchmark's new region takes in (full: 10,000). */
  readonly onboardRepositories?: number;
  /** Longest the onboarding benchmark waits; past it, it reports what was synced. @default 240 */
  readonly onboardMinutes?: number;
  /** Refs of the many-refs benchmark's repository (full: 100,000). */
  readonly manyRefs?: number;
  readonly resultsDir?: string;
  /** Repositories the reads benchmark measures, by label (`generated`, `express`, `git`); undefined: all it finds. */
  readonly readsRepos?: readonly string[];
  /** Operations the reads benchmark times (`clone`, `depth`, `single-branch`, `unshallow`, `incremental`); undefined: all. */
  readonly readsOperations?: readonly ReadOperation[];
  /** Runs of each read operation (the median counts). @default 3, 1 in quick mode */
  readonly readsRuns?: number;
  /** Write a CPU profile of each initial sync's process here (`node --cpu-prof`), and of the region's side of each read. */
  readonly cpuProfileDir?: string;
  readonly log?: (line: string) => void;
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly value: string;
  readonly met: boolean;
}

export interface BenchReport {
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly mode: 'quick' | 'full';
  readonly machine: MachineInfo;
  /** Load average when the run ended: the machine may be shared, and wall times move with it. */
  readonly loadAverageAfter: readonly number[];
  readonly inputs: Record<string, unknown>;
  readonly replicationLag?: LagResult;
  readonly costPerSync?: LagResult['cost'];
  readonly initialSync?: InitialSyncResult;
  readonly fanOut?: FanOutResult;
  /** Clones and fetches through a region against the primary, per repository. */
  readonly regionReads?: readonly RegionReadsResult[];
  readonly lfs?: LfsReplicationResult;
  readonly packCount?: PackCountResult;
  readonly coldStart?: ColdStartResult;
  readonly onboarding?: OnboardingResult;
  readonly manyRefsSync?: ManyRefsSyncResult;
  readonly targets: readonly Target[];
}

const REGIONS = ['eu-west-1', 'ap-southeast-2', 'us-west-2'];
/** Quick mode is a smoke run for CI: two regions provision and sync faster than three. */
const QUICK_REGIONS = REGIONS.slice(0, 2);
/** The initial sync runs git-geo with each engine: isomorphic-git (the original path) beside the native one. */
const DEFAULT_ENGINES = ['isomorphic-git', 'native'];
const MiB = 2 ** 20;

function sizes(quick: boolean, options: BenchOptions) {
  return {
    lag: { pushes: options.lagPushes ?? (quick ? 5 : 50), historyCommits: quick ? 50 : 300 },
    initial: { commits: quick ? 200 : 10_000, files: quick ? 20 : 200 },
    packs: { syncs: options.packSyncs ?? (quick ? 10 : 1000), minPacks: 8, factor: 2 },
    fanOut: {
      pushes: options.fanOutPushes ?? (quick ? 20 : 1000),
      repositories: options.fanOutRepositories ?? (quick ? 5 : 200),
      concurrency: 6,
      baselineRepositories: quick ? 1 : 10,
    },
    reads: { runs: options.readsRuns ?? (quick ? 1 : 3), sources: readSources(quick, options.readsRepos), operations: options.readsOperations },
    // Quick mode: the two functions with a goal, three fresh processes each (about 10 s).
    cold: { runs: quick ? 3 : 10, functions: quick ? ['endpoint', 'notify'] : undefined },
    onboard: { repositories: options.onboardRepositories ?? 10_000, timeoutMs: (options.onboardMinutes ?? 240) * 60_000 },
    manyRefs: { refs: options.manyRefs ?? 100_000 },
  };
}

/** Local snapshots of real repositories (bare), used in full mode when present. */
const REAL_REPOSITORIES = [
  { label: 'expressjs/express', path: '/work/.mirror/expressjs+express/repo' },
  { label: 'git/git', path: '/work/.mirror/git+git/repo' },
];

function readSources(quick: boolean, only: readonly string[] | undefined): ReadSource[] {
  if (quick) return [{ label: 'generated (200 commits)', commits: 200, files: 20 }];
  const all = [{ label: 'generated (10,000 commits)', commits: 10_000, files: 200 }, ...REAL_REPOSITORIES.filter((source) => existsSync(source.path))];
  if (only === undefined) return all;
  const chosen = all.filter((source) => only.some((name) => source.label.toLowerCase().includes(name.toLowerCase())));
  if (chosen.length === 0) throw new Error(`no reads repository matches ${only.join(', ')}: choose from ${all.map((source) => source.label).join(', ')}`);
  return chosen;
}

function targets(report: Omit<BenchReport, 'targets' | 'loadAverageAfter'>): Target[] {
  const list: Target[] = [];
  const lag = report.replicationLag;
  if (lag) {
    list.push({ name: 'lag p50 vs native fetch', goal: '<= 5x', value: `${lag.ratioP50}x`, met: (lag.ratioP50 ?? Infinity) <= 5 });
    list.push({ name: 'lag p50', goal: '< 1000 ms', value: `${lag.lagMs.p50} ms`, met: lag.lagMs.p50 < 1000 });
    list.push({ name: 'S3 requests per incremental sync', goal: '<= 8', value: String(lag.cost.s3.total), met: lag.cost.s3.total <= 8 });
    list.push({ name: 'S3 LIST per incremental sync', goal: '0', value: String(lag.cost.s3.list), met: lag.cost.s3.list === 0 });
  }
  const initial = report.initialSync;
  if (initial) {
    for (const [engine, run] of Object.entries(initial.gitGeo)) {
      list.push({ name: `initial sync (${engine}) vs git clone --bare`, goal: '<= 1.2x', value: `${run.ratio}x`, met: (run.ratio ?? Infinity) <= 1.2 });
      list.push({
        name: `initial sync (${engine}) peak RSS, ${mib(initial.input.packBytes)} pack`,
        goal: `<= ${Math.round(run.rssTargetBytes / MiB)} MiB whatever the pack size`,
        value: `${Math.round((run.peakRssBytes ?? 0) / MiB)} MiB`,
        met: (run.peakRssBytes ?? Infinity) <= run.rssTargetBytes,
      });
    }
  }
  for (const fn of report.coldStart?.functions.filter((candidate) => ['endpoint', 'notify'].includes(candidate.function)) ?? []) {
    const total = Math.round((fn.asDeployed.loadMs + fn.asDeployed.initMs) * 10) / 10;
    list.push({ name: `${fn.function} cold start (load + init, as deployed)`, goal: '<= 100 ms', value: `${total} ms`, met: total <= 100 });
  }
  const packs = report.packCount;
  if (packs) {
    const bound = packs.policy.minPacks + Math.ceil(Math.log2(packs.syncs)) + 1;
    list.push({ name: `packs after ${packs.syncs} syncs (most at any time)`, goal: `<= minPacks + log2(syncs) + 1 = ${bound}`, value: `${packs.packsAtEnd} (${packs.mostPacks})`, met: packs.mostPacks <= bound });
  }
  for (const reads of report.regionReads ?? []) {
    for (const operation of reads.operations) {
      list.push({ name: `${reads.label}: ${operation.operation}, region vs primary`, goal: '<= 1.2x', value: `${operation.ratio}x`, met: (operation.ratio ?? Infinity) <= 1.2 });
    }
    list.push({ name: `${reads.label}: primary upload-pack requests while reading a fresh region`, goal: '0', value: String(reads.primaryUploadPacks), met: reads.primaryUploadPacks === 0 });
    const growth = reads.rssPeakBytes - reads.rssBeforeBytes;
    list.push({
      name: `${reads.label}: process RSS growth while the region served (pack ${Math.round(reads.packBytes / MiB)} MiB)`,
      goal: '< 256 MiB, whatever the pack size',
      value: `${Math.round(growth / MiB)} MiB`,
      met: growth < 256 * MiB,
    });
  }
  const fan = report.fanOut;
  if (fan) {
    list.push({ name: 'fetches per push (bursts)', goal: '<= 0.5', value: String(fan.fetchesPerPush), met: fan.fetchesPerPush <= 0.5 });
    list.push({ name: 'messages lost', goal: '0', value: String(fan.messagesLost), met: fan.messagesLost === 0 });
    list.push({ name: 'webhooks answered 5xx (fan-out)', goal: '0', value: String(fan.webhooks.serverErrors), met: fan.webhooks.serverErrors === 0 });
    list.push({ name: 'webhook answer time, max (fan-out)', goal: '< 10 s (GitHub gives up)', value: `${fan.webhooks.answerMs.max} ms`, met: fan.webhooks.answerMs.max < 10_000 });
  }
  const onboard = report.onboarding;
  if (onboard) {
    list.push({ name: `onboarding ${onboard.repositories} repositories: all synced`, goal: `${onboard.repositories}`, value: String(onboard.synced), met: onboard.synced === onboard.repositories });
    list.push({ name: 'onboarding: DynamoDB Scans', goal: '0', value: String(onboard.scans), met: onboard.scans === 0 });
  }
  for (const run of report.lfs?.sizes ?? []) {
    const size = `${Math.round(run.bytes / MiB)} MiB`;
    list.push({ name: `LFS replication of ${size} vs plain S3 upload`, goal: '<= 2x', value: `${run.ratio}x`, met: run.ratio <= 2 });
    list.push({ name: `LFS replication of ${size}: peak RSS`, goal: '< 300 MiB', value: `${Math.round(run.lfs.peakRssBytes / MiB)} MiB`, met: run.lfs.peakRssBytes < 300 * MiB });
  }
  return list;
}

const ms = (value: number | undefined): string => (value === undefined || !Number.isFinite(value) ? '-' : `${Math.round(value)} ms`);
const mib = (value: number | undefined): string => (value === undefined ? '-' : `${(value / MiB).toFixed(1)} MiB`);
const x = (value: number | undefined): string => (value === undefined ? '-' : `${value}x`);
const bytes = (value: number): string => (value >= 10 * 1024 ? `${(value / 1024).toFixed(1)} KiB` : `${value} B`);
const ratioOf = (value: number, baseline: number): number | undefined => ratio(value, baseline);

/** The human report: every figure beside its baseline and the ratio, then the targets. */
export function formatReport(report: BenchReport): string {
  const plain = process.stdout.isTTY ? {} : { style: { head: [], border: [] } };
  const table = (title: string, head: string[]): Table.Table => new Table({ head: [title, ...head], ...plain });
  const out: string[] = [];
  const m = report.machine;
  out.push(`git-geo bench (${report.mode}) on ${m.cpus} x ${m.cpuModel}, ${Math.round(m.memoryMiB / 1024)} GiB, node ${m.node}, git ${m.git}, ${m.aws}; load average ${m.loadAverage[0]} -> ${report.loadAverageAfter[0]}; ${report.durationSeconds} s`);
  const lag = report.replicationLag;
  if (lag) {
    const t = table(`replication lag, ${lag.pushes} pushes, ${lag.regions} regions`, ['git-geo (push -> every region)', 'native git fetch', 'ratio']);
    t.push(['p50', ms(lag.lagMs.p50), ms(lag.nativeFetchMs.p50), x(lag.ratioP50)]);
    t.push(['p95', ms(lag.lagMs.p95), ms(lag.nativeFetchMs.p95), x(lag.ratioP95)]);
    t.push(['max', ms(lag.lagMs.max), ms(lag.nativeFetchMs.max), x(ratioOf(lag.lagMs.max, lag.nativeFetchMs.max))]);
    t.push(['p50 by phase', `webhook ${ms(lag.phasesP50.pushToWebhook)}, queue ${ms(lag.phasesP50.webhookToSyncStart)}, sync ${ms(lag.phasesP50.syncStartToSynced)}`, '', '']);
    t.push(['CPU per push: emulator / this process', `${lag.cpuSecondsPerPush.emulator ?? '-'} s / ${lag.cpuSecondsPerPush.bench} s`, '', '']);
    t.push(['poller requests per push', String(lag.pollerRequestsPerPush), '', '']);
    out.push(t.toString());
  }
  const cost = report.costPerSync;
  if (cost) {
    const t = table(`cost per incremental sync per region (${cost.syncs} syncs)`, ['git-geo', 'baseline', 'ratio']);
    const line = (byOperation: Record<string, number>): string => Object.entries(byOperation).map(([operation, count]) => `${operation} ${count}`).join(', ') || '-';
    t.push(['S3 requests', `${cost.s3.total} (${line(cost.s3.byOperation)})`, '', '']);
    t.push(['S3 LIST requests', String(cost.s3.list), '', '']);
    t.push(['DynamoDB requests', `${cost.dynamodb.total} (${line(cost.dynamodb.byOperation)})`, '', '']);
    if (Object.keys(cost.other).length > 0) t.push(['other requests', line(cost.other), '', '']);
    t.push(['bytes from the primary', bytes(cost.bytes.fromPrimary), `native fetch ${bytes(cost.bytes.nativeFetch)}`, x(ratioOf(cost.bytes.fromPrimary, cost.bytes.nativeFetch))]);
    t.push(['bytes to S3', bytes(cost.bytes.toS3), `new objects ${bytes(cost.bytes.newObjects)} (${cost.bytes.newObjectCount} objects)`, x(ratioOf(cost.bytes.toS3, cost.bytes.newObjects))]);
    t.push(['bytes from S3 / DynamoDB', `${bytes(cost.bytes.fromS3)} / ${bytes(cost.bytes.dynamodb)}`, '', '']);
    t.push(['notify, per push', line(cost.notify.byOperation), '', '']);
    t.push(['time waiting on S3 / DynamoDB', `${ms(cost.waitMs.s3)} / ${ms(cost.waitMs.dynamodb)}`, '', '']);
    out.push(t.toString());
  }
  const initial = report.initialSync;
  if (initial) {
    const native = initial.nativeCloneBare;
    const t = table(`initial sync, ${initial.input.objects} objects, ${mib(initial.input.packBytes)} pack`, ['wall time', 'vs git clone --bare', 'CPU time', 'vs git', 'peak RSS', 'RSS / pack']);
    const row = (label: string, run: InitialSyncResult['nativeCloneBare']): string[] => [label, ms(run.wallMs), x(run.ratio), ms(run.cpuMs), x(run.cpuRatio), mib(run.peakRssBytes), x(run.rssPerPackByte)];
    t.push(row('git clone --bare (local disk)', native));
    if (initial.isomorphicGitClone !== undefined) t.push(row('isomorphic-git clone (local disk)', initial.isomorphicGitClone));
    for (const [engine, run] of Object.entries(initial.gitGeo)) t.push(row(`git-geo sync into S3 (${engine})`, run));
    for (const [engine, run] of Object.entries(initial.gitGeo)) {
      if (run.phases === undefined) continue;
      const emulator = run.emulatorCpuMs === undefined ? '' : `; S3 emulator CPU ${ms(run.emulatorCpuMs)}`;
      t.push([`  where (${engine}) went`, `download and index ${ms(run.phases.downloadAndIndexMs)}, upload ${ms(run.phases.uploadMs)}, rest ${ms(run.phases.restMs)}${emulator}`, '', '', '', '', '']);
    }
    out.push(t.toString());
  }
  const packs = report.packCount;
  if (packs) {
    const t = table(`pack count, ${packs.syncs} syncs of one repository (maintenance: minPacks ${packs.policy.minPacks}, factor ${packs.policy.factor})`, ['git-geo', 'without maintenance']);
    t.push(['packs at the end (most at any time)', `${packs.packsAtEnd} (${packs.mostPacks})`, String(packs.packsWithoutMaintenance)]);
    t.push(['repacks; bytes repacked / final pack bytes', `${packs.repacks}; ${packs.repackBytesRatio}x`, '']);
    t.push(['wall time', `${packs.wallSeconds} s`, '']);
    out.push(t.toString());
  }
  const fan = report.fanOut;
  if (fan) {
    const t = table(`fan-out, ${fan.pushes} pushes, ${fan.repositories} repositories, ${fan.regions} regions`, ['git-geo', `native fetch-per-push mirrors (${fan.baseline.pushes} pushes)`, 'ratio']);
    t.push(['pushes replicated / s', fan.pushesPerSecond.toFixed(1), fan.baseline.pushesPerSecond.toFixed(1), x(fan.throughputRatio)]);
    t.push(['fetches per push per region', String(fan.fetchesPerPush), String(fan.baseline.fetchesPerPush), x(fan.fetchesPerPush)]);
    t.push(['ref discoveries per push per region', String(fan.discoveriesPerPush), '1', '']);
    t.push(['push phase / drain after last push', `${fan.pushSeconds} s / ${fan.drainSeconds} s`, '', '']);
    t.push(['regions converged, messages lost', `${fan.regionsConverged}/${fan.regions}, ${fan.messagesLost} lost`, '', '']);
    const statuses = Object.entries(fan.webhooks.byStatus).map(([status, count]) => `${count} x ${status}`).join(', ');
    t.push(['webhook answers (sent once each)', `${statuses}; p50 ${fan.webhooks.answerMs.p50} ms, p95 ${fan.webhooks.answerMs.p95} ms, max ${fan.webhooks.answerMs.max} ms`, '', '']);
    t.push(['notify request time (mean)', Object.entries(fan.notifyRequestMs).map(([key, value]) => `${key.replace(/^notify /, '')} ${value} ms`).join(', '), '', '']);
    const total = Object.values(fan.requestsPerPush).reduce((sum, value) => sum + value, 0);
    const top = Object.entries(fan.requestsPerPush).slice(0, 6).map(([key, value]) => `${key} ${value}`).join(', ');
    t.push(['AWS requests per push (all regions)', `${Math.round(total * 10) / 10}: ${top}`, '', '']);
    if (fan.emulatorCpuSeconds !== undefined) t.push(['emulator (moto) CPU', `${fan.emulatorCpuSeconds} s of ${fan.totalSeconds} s`, '', '']);
    out.push(t.toString());
  }
  const onboard = report.onboarding;
  if (onboard) {
    const t = table(`onboarding a new region (${onboard.region}): ${onboard.repositories} repositories on the primary`, ['git-geo', '']);
    t.push(['synced / wall time', `${onboard.synced} in ${onboard.totalSeconds} s (${onboard.repositoriesPerSecond} repositories/s); backfill listed and requested all in ${onboard.backfillSeconds} s (${onboard.backfillInvocations} invocations)`, '']);
    t.push(['DynamoDB / S3 / SQS requests per repository', `${onboard.dynamodbPerRepository} / ${onboard.s3PerRepository} / ${onboard.sqsPerRepository}; Scans: ${onboard.scans}`, '']);
    t.push(['requests per repository', Object.entries(onboard.requestsPerRepository).slice(0, 12).map(([key, value]) => `${key} ${value}`).join(', '), '']);
    t.push(['primary requests per repository', String(onboard.primaryRequestsPerRepository), '']);
    if (onboard.emulatorCpuSeconds !== undefined) t.push(['emulator (moto) CPU', `${onboard.emulatorCpuSeconds} s`, '']);
    out.push(t.toString());
  }
  const many = report.manyRefsSync;
  if (many) {
    const t = table(`sync of a repository with ${many.refs} refs (per region, ${many.regions} regions)`, ['git-geo', 'native git', 'ratio']);
    const side = (run: { wallMs: number; bytesFromPrimary: number; requests: number }): string => `${ms(run.wallMs)}, ${bytes(run.bytesFromPrimary)} from the primary in ${run.requests} requests`;
    t.push(['initial (git clone --bare)', side(many.initial.gitGeo), side(many.initial.nativeCloneBare), x(many.initial.ratio)]);
    t.push(['one push (git fetch)', side(many.incremental.gitGeo), side(many.incremental.nativeFetch), `${x(many.incremental.ratio)} time, ${x(many.incremental.bytesRatio)} bytes`]);
    out.push(t.toString());
  }
  for (const reads of report.regionReads ?? []) {
    const t = table(`region vs primary, ${reads.label}: ${mib(reads.packBytes)} pack, ${reads.objects} objects (Lambda streaming limits honoured)`, ['region', 'primary', 'ratio']);
    for (const operation of reads.operations) {
      const fellBack = operation.primaryUploadPacks === 0 ? '' : ` (${operation.primaryUploadPacks} primary upload-pack requests)`;
      t.push([operation.operation, `${ms(operation.regionMs)}${fellBack}`, ms(operation.primaryMs), x(operation.ratio)]);
    }
    t.push(['initial sync into the region', ms(reads.initialSyncMs), '', '']);
    t.push(['reads answered by the primary (proxied or redirected upload-pack requests)', String(reads.primaryUploadPacks), '', '']);
    t.push(["the endpoint's access checks to the primary (ref advertisements, no pack)", String(reads.operations.reduce((sum, operation) => sum + operation.accessChecks, 0)), '', '']);
    t.push(['process RSS before / peak while serving', `${mib(reads.rssBeforeBytes)} / ${mib(reads.rssPeakBytes)}`, '', '']);
    out.push(t.toString());
  }
  if (report.lfs) {
    const t = table('LFS object replication', ['git-geo (primary LFS API -> verified -> bucket)', 'plain S3 upload from disk', 'ratio', 'peak RSS git-geo / S3']);
    for (const run of report.lfs.sizes) {
      t.push([mib(run.bytes), `${ms(run.lfs.wallMs)} (${run.lfsMiBPerSecond} MiB/s)`, `${ms(run.s3.wallMs)} (${run.s3MiBPerSecond} MiB/s)`, x(run.ratio), `${mib(run.lfs.peakRssBytes)} / ${mib(run.s3.peakRssBytes)}`]);
    }
    out.push(t.toString());
  }
  if (report.coldStart) {
    const cold = report.coldStart;
    const t = table(`cold start from the bundle, fresh process, median of ${cold.runs} (node -e 0: ${ms(cold.nodeBaselineMs)})`, ['loaded at start / whole bundle / map', 'load + init as deployed', 'its CPU time', 'load + init without NODE_OPTIONS', "node's own start (not counted)"]);
    for (const fn of cold.functions) {
      const deployed = fn.asDeployed;
      t.push([fn.function, `${mib(fn.bundleBytes)} / ${mib(fn.allBundleBytes)} / ${mib(fn.sourceMapBytes)}`, `${ms(deployed.loadMs)} + ${ms(deployed.initMs)}`, `${ms(deployed.loadCpuMs)} + ${ms(deployed.initCpuMs)}`, `${ms(fn.withoutNodeOptions.loadMs)} + ${ms(fn.withoutNodeOptions.initMs)}`, ms(deployed.processStartMs)]);
    }
    for (const floor of cold.sdkClientsAlone) {
      const timing = floor.timing;
      t.push([`${floor.function}: its AWS SDK clients alone`, mib(floor.bundleBytes), `${ms(timing.loadMs)} + ${ms(timing.initMs)}`, `${ms(timing.loadCpuMs)} + ${ms(timing.initCpuMs)}`, '', ms(timing.processStartMs)]);
    }
    out.push(t.toString());
  }
  const goals = table('target', ['goal', 'measured', '']);
  for (const target of report.targets) goals.push([target.name, target.goal, target.value, target.met ? 'met' : 'NOT MET']);
  out.push(goals.toString());
  return out.join('\n');
}

/**
 * The benchmark suite: replication lag (and the cost of each incremental sync), initial
 * sync, and fan-out, each beside native git in the same run. Writes the JSON report to
 * bench/results/ and answers it.
 */
export async function runBench(options: BenchOptions): Promise<{ report: BenchReport; file: string }> {
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const only = new Set(options.only ?? BENCHMARKS.filter((name) => !ON_REQUEST.includes(name)));
  const size = sizes(options.quick, options);
  const startedAt = new Date();
  const started = performance.now();
  const errors: unknown[] = [];
  const awsEndpoint = options.awsEndpoint ?? process.env.AWS_ENDPOINT_URL;
  for (const [name, value] of Object.entries({ AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' })) process.env[name] ??= value;
  const machine = await machineInfo(awsEndpoint);
  // The reads benchmark reads through one region: alone, it syncs into that one (git/git into three took over 15 minutes).
  const readsAlone = options.only !== undefined && options.only.length === 1 && options.only[0] === 'reads';
  const regions = readsAlone ? REGIONS.slice(0, 1) : options.quick ? QUICK_REGIONS : REGIONS;
  log(`load average ${loadavg().map((value) => value.toFixed(1)).join(' ')}; starting git-geo locally with ${regions.length} regions (${awsEndpoint ?? 'embedded moto'})...`);
  const bed = await BenchBed.start({ regions, awsEndpoint, onError: (error) => void errors.push(error) });
  const report: { -readonly [K in keyof Omit<BenchReport, 'targets' | 'loadAverageAfter'>]: BenchReport[K] } = {
    startedAt: startedAt.toISOString(),
    durationSeconds: 0,
    mode: options.quick ? 'quick' : 'full',
    machine,
    inputs: { regions, ...size, initialSyncRepo: options.bigRepoMiB !== undefined ? `generated ${options.bigRepoMiB} MiB` : (options.repo ?? 'generated'), engines: options.engines ?? DEFAULT_ENGINES, awsEndpoint: awsEndpoint ?? 'embedded moto' },
  };
  try {
    if (only.has('lag')) {
      log(`replication lag: ${size.lag.pushes} pushes`);
      const lag = await replicationLag(bed, { ...size.lag, timeoutMs: 60_000, log });
      report.replicationLag = lag;
      report.costPerSync = lag.cost;
    }
    if (only.has('initial')) {
      log('initial sync');
      const engines = options.engines ?? DEFAULT_ENGINES;
      report.initialSync = await initialSync(bed, {
        repo: options.repo,
        ...size.initial,
        bigMiB: options.bigRepoMiB,
        skipIsomorphicClone: options.bigRepoMiB !== undefined || !engines.includes('isomorphic-git'),
        engines,
        cpuProfileDir: options.cpuProfileDir,
        log,
      });
    }
    if (only.has('cold')) {
      log(`cold starts: ${size.cold.functions?.join(', ') ?? 'every function'}, ${size.cold.runs} fresh processes each`);
      report.coldStart = await coldStart(bed, { ...size.cold, log });
    }
    if (only.has('packs')) {
      log(`pack count: ${size.packs.syncs} syncs of one repository`);
      report.packCount = await packCount(bed, { ...size.packs, log });
    }
    if (only.has('reads')) {
      log(`region reads: ${size.reads.sources.map((source) => source.label).join(', ')}`);
      if (options.cpuProfileDir !== undefined) await mkdir(options.cpuProfileDir, { recursive: true });
      report.regionReads = await regionReads(bed, { ...size.reads, cpuProfileDir: options.cpuProfileDir, syncTimeoutMs: options.quick ? 60_000 : 1_800_000, log });
    }
    if (only.has('fanout')) {
      log(`fan-out: ${size.fanOut.pushes} pushes over ${size.fanOut.repositories} repositories`);
      report.fanOut = await fanOut(bed, { ...size.fanOut, timeoutMs: options.quick ? 60_000 : 300_000, log });
    }
    if (only.has('manyrefs') && !options.quick) {
      log(`many refs: sync of a repository with ${size.manyRefs.refs} refs`);
      report.manyRefsSync = await manyRefsSync(bed, { ...size.manyRefs, timeoutMs: 1_800_000, log });
    }
    // Full mode only: a second runtime (the new region) and thousands of repositories.
    if (only.has('onboard') && !options.quick) {
      log(`onboarding: a new region takes in ${size.onboard.repositories} repositories`);
      report.onboarding = await onboarding(bed, { ...size.onboard, log });
    }
    // Full mode only: writing and moving a 1 GiB object takes longer than quick mode's budget.
    if (only.has('lfs') && !options.quick) {
      log('LFS replication: 100 MiB and 1 GiB objects');
      report.lfs = await lfsReplication(bed, { sizesMiB: [100, 1024], log });
    }
  } catch (error) {
    // What went wrong inside the functions (a 5xx's cause is only there).
    for (const runtimeError of errors.slice(0, 10)) log(`runtime error: ${runtimeError instanceof Error ? (runtimeError.stack ?? runtimeError.message) : String(runtimeError)}`);
    throw error;
  } finally {
    await bed.stop();
  }
  const full: BenchReport = { ...report, loadAverageAfter: loadavg().map((value) => Math.round(value * 100) / 100), durationSeconds: Math.round((performance.now() - started) / 100) / 10, targets: targets(report) };
  const dir = options.resultsDir ?? join(PROJECT_ROOT, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const file = join(dir, `bench-${full.mode}-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  const json = `${JSON.stringify({ ...full, runtimeErrors: errors.slice(0, 20).map(String) }, null, 2)}\n`;
  await writeFile(file, json);
  await writeFile(join(dir, `latest-${full.mode}.json`), json);
  return { report: full, file };
}
