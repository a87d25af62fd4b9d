import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat, readdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { promisify } from 'node:util';
import { generateRepository } from '../../bin/local/generateRepository.ts';
import { git } from '../../bin/local/git.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { BenchBed } from '../BenchBed.ts';
import { ratio } from '../stats.ts';
import { USER_AGENTS } from '../../lambdas/shared/git/userAgents.ts';

const execFileAsync = promisify(execFile);

export interface ReadSource {
  /** Shown in the report. */
  readonly label: string;
  /** A bare repository to clone onto the primary; undefined generates one. */
  readonly path?: string;
  readonly commits?: number;
  readonly files?: number;
}

/** The operations the benchmark times, by the short name `--reads-ops` takes. */
export const READ_OPERATIONS = ['clone', 'depth', 'single-branch', 'unshallow', 'bundle-uri', 'incremental'] as const;
export type ReadOperation = (typeof READ_OPERATIONS)[number];

export interface RegionReadsOptions {
  readonly sources: readonly ReadSource[];
  /** Runs of each operation; the median counts. */
  readonly runs: number;
  /** Operations to time (to iterate on one); undefined: all of them. */
  readonly operations?: readonly ReadOperation[];
  /** Write a CPU profile of this process (the runtime serving the region) per operation, region side only. */
  readonly cpuProfileDir?: string;
  readonly syncTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** One operation, through the region and from the primary. */
export interface ReadComparison {
  readonly operation: string;
  readonly regionMs: number;
  readonly primaryMs: number;
  readonly ratio: number | undefined;
  /** Upload-pack requests the primary answered for this operation's region runs (a read proxied or redirected there). */
  readonly primaryUploadPacks: number;
  /** The endpoint's access checks to the primary meanwhile (ref advertisements, no pack). */
  readonly accessChecks: number;
}

export interface RegionReadsResult {
  readonly label: string;
  readonly packBytes: number;
  readonly objects: number;
  readonly initialSyncMs: number;
  readonly operations: readonly ReadComparison[];
  /** Upload-pack requests the primary answered while clients read through the region. */
  readonly primaryUploadPacks: number;
  /** RSS of this process (the runtime with every function in it), before and at peak while the region served. */
  readonly rssBeforeBytes: number;
  readonly rssPeakBytes: number;
}

/** The client settings a runner uses for a large repository: pack bytes by pre-signed URL (moto is plain http here). */
const REGION_CLIENT = ['-c', 'protocol.version=2', '-c', 'fetch.uriProtocols=http,https'];
const PRIMARY_CLIENT = ['-c', 'protocol.version=2'];
/** git-geo's scheduled work towards the primary (sync and verify), told apart from the endpoint's requests. */
const SCHEDULED_AGENTS: ReadonlySet<string | undefined> = new Set([USER_AGENTS.sync, USER_AGENTS.verify]);

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timedGit(args: readonly string[], cwd?: string): Promise<number> {
  const started = performance.now();
  await execFileAsync('git', [...args], { cwd, maxBuffer: 64 * 2 ** 20 });
  return performance.now() - started;
}

async function packStats(gitDir: string): Promise<{ bytes: number; objects: number }> {
  const dir = join(gitDir, 'objects', 'pack');
  let bytes = 0;
  for (const file of await readdir(dir)) if (file.endsWith('.pack')) bytes += (await stat(join(dir, file))).size;
  const counts = await git(['count-objects', '-v'], { cwd: gitDir });
  return { bytes, objects: Number(/^in-pack: (\d+)/m.exec(counts)![1]) + Number(/^count: (\d+)/m.exec(counts)![1]) };
}

/**
 * Reads through a region against the same reads from the primary (`git http-backend`), with
 * the local runtime honouring Lambda's streaming limits: full clone, --depth 1,
 * --single-branch, --unshallow, a clone with --bundle-uri and an incremental fetch, each the median of `runs`. The region
 * is fresh (synced once, nothing cached by its endpoint before the first read), and every
 * upload-pack request the primary answers during the region's reads is counted.
 */
export async function regionReads(bed: BenchBed, options: RegionReadsOptions): Promise<RegionReadsResult[]> {
  const results: RegionReadsResult[] = [];
  const region = bed.regions[0]!;
  for (const [index, source] of options.sources.entries()) {
    const repository = parseRepositoryPath(`reads/repo-${index}`);
    const primaryPath = bed.primaryPath(repository);
    if (source.path === undefined) {
      await bed.createRepository(repository);
      await generateRepository(primaryPath, { commits: source.commits ?? 2000, files: source.files ?? 100 });
    } else {
      await git(['clone', '-q', '--bare', source.path, primaryPath]);
    }
    await git(['branch', '-f', 'side', 'main~5'], { cwd: primaryPath }).catch(() => git(['branch', '-f', 'side', 'HEAD~5'], { cwd: primaryPath }));
    const main = (await git(['rev-parse', 'HEAD'], { cwd: primaryPath })).trim();
    const head = (await git(['symbolic-ref', 'HEAD'], { cwd: primaryPath })).trim();
    const { bytes: packBytes, objects } = await packStats(primaryPath);
    options.log(`region reads: ${source.label}: ${(packBytes / 2 ** 20).toFixed(1)} MiB, ${objects} objects; syncing (load average ${loadavg()[0]!.toFixed(1)})`);
    const syncStarted = performance.now();
    const sequence = await bed.notify(repository, { ref: head, before: '0'.repeat(40), after: main });
    await bed.waitForSync(repository, sequence, options.syncTimeoutMs, 500);
    const initialSyncMs = performance.now() - syncStarted;
    options.log(`region reads: ${source.label}: synced in ${Math.round(initialSyncMs / 1000)} s (load average ${loadavg()[0]!.toFixed(1)})`);

    const regionUrl = `${bed.runtime.regions[region]!.gitUrl}/${repository}.git`;
    const primaryUrl = bed.repositoryUrl(repository);
    const scratch = await mkdtemp(join(bed.scratch, 'reads-'));
    let rssPeak = process.memoryUsage.rss();
    const rssBefore = rssPeak;
    // rss() alone: memoryUsage() gathers heap statistics, and sampled every 50 ms it took 17 s of CPU in one
    // run, from the very process that serves the region (the primary is another process).
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 50);
    let primaryUploadPacks = 0;
    let run = 0;
    const wanted = (operation: ReadOperation): boolean => options.operations === undefined || options.operations.includes(operation);
    /** Times an operation against both, `runs` times; `beforeRun` prepares each run (not timed). */
    const compare = async (
      operation: string,
      command: (side: 'region' | 'primary', url: string, dir: string, client: readonly string[]) => Promise<number>,
      beforeRun?: (attempt: number) => Promise<void>,
    ): Promise<ReadComparison> => {
      const times = { region: [] as number[], primary: [] as number[] };
      let askedPrimary = 0;
      let background = 0;
      let accessChecks = 0;
      const sentOn: string[] = [];
      const profiler = await startProfile(options.cpuProfileDir);
      for (let attempt = 0; attempt < options.runs; attempt++) {
        await beforeRun?.(attempt);
        for (const side of ['region', 'primary'] as const) {
          const dir = join(scratch, `${run++}`);
          await bed.primary.flush();
          const mark = bed.primary.requests.length;
          if (side === 'region') await profiler?.resume();
          times[side].push(await command(side, side === 'region' ? regionUrl : primaryUrl, dir, side === 'region' ? REGION_CLIENT : PRIMARY_CLIENT));
          if (side === 'region') await profiler?.pause();
          await bed.primary.flush();
          if (side === 'region') {
            // git-geo's own functions (sync, verify) run on their schedules
            // meanwhile; what counts is a read the region sent on (the endpoint's proxy, or a redirected client).
            const uploadPacks = bed.primary.requests.slice(mark).filter((request) => request.service === 'git-upload-pack');
            // The endpoint's access checks (the caller's credentials against the ref advertisement, once
            // the sync's record of anonymous access is older than anonymousTrustSeconds) carry no pack.
            const checks = uploadPacks.filter((request) => request.userAgent === USER_AGENTS.endpoint && request.method === 'GET');
            const ofReads = uploadPacks.filter((request) => !SCHEDULED_AGENTS.has(request.userAgent) && !checks.includes(request));
            askedPrimary += ofReads.length;
            accessChecks += checks.length;
            background += uploadPacks.length - ofReads.length - checks.length;
            sentOn.push(...ofReads.map((request) => `${request.method} ${request.path.slice(request.path.indexOf('.git/'))} (${request.userAgent ?? 'no user agent'})`));
          }
          await rm(dir, { recursive: true, force: true });
        }
      }
      await profiler?.save(join(options.cpuProfileDir!, profileName(source.label, operation)));
      const regionMs = median(times.region);
      const primaryMs = median(times.primary);
      primaryUploadPacks += askedPrimary;
      const each = (values: readonly number[]): string => values.map((value) => (value / 1000).toFixed(2)).join(', ');
      options.log(
        `  ${operation}: region ${Math.round(regionMs)} ms (runs: ${each(times.region)} s), primary ${Math.round(primaryMs)} ms (${each(times.primary)} s); ` +
          `${askedPrimary} primary upload-pack requests for the reads${sentOn.length === 0 ? '' : ` [${sentOn.slice(0, 4).join('; ')}]`} (besides: ${accessChecks} access checks, ${background} by git-geo's scheduled functions); RSS before ${mib(rssBefore)}, peak so far ${mib(rssPeak)}`,
      );
      return { operation, regionMs: Math.round(regionMs), primaryMs: Math.round(primaryMs), ratio: ratio(regionMs, primaryMs), primaryUploadPacks: askedPrimary, accessChecks };
    };
    const operations: ReadComparison[] = [];
    try {
      if (wanted('clone')) operations.push(await compare('full clone', (_side, url, dir, client) => timedGit([...client, 'clone', '-q', '--bare', url, dir])));
      if (wanted('depth')) operations.push(await compare('clone --depth 1', (_side, url, dir, client) => timedGit([...client, 'clone', '-q', '--bare', '--depth', '1', url, dir])));
      if (wanted('single-branch')) operations.push(await compare('clone --single-branch', (_side, url, dir, client) => timedGit([...client, 'clone', '-q', '--bare', '--single-branch', url, dir])));
      if (wanted('unshallow')) {
        operations.push(
          await compare('fetch --unshallow', async (_side, url, dir, client) => {
            await git([...client, 'clone', '-q', '--bare', '--depth', '1', url, dir]);
            return timedGit([...client, 'fetch', '-q', '--unshallow', 'origin'], dir);
          }),
        );
      }
      if (wanted('bundle-uri')) {
        // A runner's one setting for bundle-uri, and nothing else (no packfile-uris): the bundle from
        // the bucket, then a fetch of the rest through the region. Without a bundle (a pack under
        // bundleMinPackMiB), git warns and clones as usual.
        const listed = await fetch(`${regionUrl}/bundle`);
        await listed.body?.cancel();
        const label = listed.status === 200 ? 'clone --bundle-uri' : 'clone --bundle-uri (no bundle: pack under bundleMinPackMiB)';
        operations.push(
          await compare(label, (side, url, dir) => timedGit([...PRIMARY_CLIENT, 'clone', '-q', '--bare', ...(side === 'region' ? [`--bundle-uri=${url}/bundle`] : []), url, dir])),
        );
      }
      if (wanted('incremental')) {
        // An incremental fetch: clones of the old tip, then before each run 20 new commits on the
        // primary, synced to the region, then a fetch from each.
        const clones = { region: join(scratch, 'inc-region'), primary: join(scratch, 'inc-primary') };
        await git([...REGION_CLIENT, 'clone', '-q', '--bare', regionUrl, clones.region]);
        await git([...PRIMARY_CLIENT, 'clone', '-q', '--bare', primaryUrl, clones.primary]);
        const pushAndSync = async (attempt: number): Promise<void> => {
          const before = (await git(['rev-parse', head], { cwd: primaryPath })).trim();
          await generateRepository(primaryPath, { commits: 20, files: 20, branch: head.replace('refs/heads/', ''), parent: before, seed: 7 + attempt, startAt: 1_900_000_000 + attempt * 100_000 });
          const after = (await git(['rev-parse', head], { cwd: primaryPath })).trim();
          await bed.waitForSync(repository, await bed.notify(repository, { ref: head, before, after }), options.syncTimeoutMs, 200);
        };
        operations.push(
          await compare('incremental fetch (20 commits)', (side, _url, _dir, client) => timedGit([...client, 'fetch', '-q', 'origin', `+${head}:${head}`], clones[side]), pushAndSync),
        );
      }
    } finally {
      clearInterval(sampler);
      await rm(scratch, { recursive: true, force: true });
    }
    results.push({ label: source.label, packBytes, objects, initialSyncMs: Math.round(initialSyncMs), operations, primaryUploadPacks, rssBeforeBytes: rssBefore, rssPeakBytes: rssPeak });
  }
  return results;
}

function profileName(label: string, operation: string): string {
  return `reads-${label.replace(/\W+/g, '-')}-${operation.replace(/\W+/g, '-')}.cpuprofile`;
}

/** A CPU profile of this process, recorded only between `resume` and `pause` (the region's side of each run). */
interface Profile {
  resume(): Promise<void>;
  pause(): Promise<void>;
  save(file: string): Promise<void>;
}

async function startProfile(dir: string | undefined): Promise<Profile | undefined> {
  if (dir === undefined) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  // The inspector has no pause: one profile per timed run, and the last one (warm, as a busy instance is) is saved.
  const profiles: { nodes: unknown[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }[] = [];
  return {
    resume: async () => void (await session.post('Profiler.start')),
    pause: async () => void profiles.push((await session.post('Profiler.stop')).profile as (typeof profiles)[number]),
    save: async (file) => {
      session.disconnect();
      const last = profiles.at(-1);
      if (last !== undefined) await writeFile(file, JSON.stringify(last));
    },
  };
}
