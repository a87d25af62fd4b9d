import { execFile, spawn } from 'node:child_process';
import { access, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { generateRepository } from '../../bin/local/generateRepository.ts';
import { generateBigRepository } from '../generateBigRepository.ts';
import { git } from '../../bin/local/git.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { BenchBed } from '../BenchBed.ts';
import type { ChildRequest, ChildResult, SyncPhases } from '../initialSyncChild.ts';
import { ratio } from '../stats.ts';

const execFileAsync = promisify(execFile);
const CHILD = fileURLToPath(new URL('../initialSyncChild.ts', import.meta.url));

export interface InitialSyncOptions {
  /** A repository to sync (local path or URL); undefined generates one. */
  readonly repo: string | undefined;
  /** Commits and files of the generated repository. */
  readonly commits: number;
  readonly files: number;
  /** Generate a repository of this many MiB of incompressible blobs instead (a pack as big as that). */
  readonly bigMiB?: number;
  /** Skip isomorphic-git's own clone (it holds the whole pack in memory: not for big inputs). */
  readonly skipIsomorphicClone?: boolean;
  /** git-geo fetch engines to run, each into a region of its own. */
  readonly engines: readonly string[];
  /** Where to write a CPU profile of each child process (`node --cpu-prof`), if anywhere. */
  readonly cpuProfileDir?: string;
  readonly log: (line: string) => void;
}

export interface Run {
  readonly wallMs: number;
  /** User + system CPU time (the process and its children), robust to other load on the machine. */
  readonly cpuMs: number | undefined;
  /** CPU time over `git clone --bare`'s (all of git's processes: fetch, index-pack, and the server side is excluded for both). */
  readonly cpuRatio: number | undefined;
  /** RSS of the process before the sync began (modules loaded, clients created). */
  readonly rssBeforeBytes?: number;
  /** Peak RSS of the whole process, loading the bundle included (peakRssBytes is the sync's own). */
  readonly processPeakRssBytes?: number;
  readonly peakRssBytes: number | undefined;
  /** Peak RSS over the pack size. */
  readonly rssPerPackByte: number | undefined;
  /** Wall time over `git clone --bare`'s. */
  readonly ratio: number | undefined;
}

/** A git-geo sync: its run, where its wall time went, and what the S3 emulator spent meanwhile. */
export interface SyncRun extends Run {
  readonly rssTargetBytes: number;
  readonly phases?: SyncPhases;
  /** CPU time the embedded S3 emulator (moto, one Python process) used during the sync; undefined against another endpoint. */
  readonly emulatorCpuMs?: number;
}

export interface InitialSyncResult {
  readonly input: { readonly source: string; readonly objects: number; readonly packBytes: number; readonly refs: number };
  /** `git clone --bare`: heads and tags, the refs git-geo mirrors by default. */
  readonly nativeCloneBare: Run;
  readonly isomorphicGitClone?: Run;
  /** git-geo's sync into S3, by fetch engine. */
  readonly gitGeo: Readonly<Record<string, SyncRun>>;
}

/** Runs a command; answers its wall time and, when GNU time is there, its peak RSS (children included). */
async function timed(command: string, args: readonly string[], cwd?: string): Promise<{ wallMs: number; cpuMs: number | undefined; peakRssBytes: number | undefined }> {
  const gnuTime = await access('/usr/bin/time').then(() => true, () => false);
  const started = performance.now();
  const { stderr } = gnuTime
    ? await execFileAsync('/usr/bin/time', ['-f', 'maxrss-kb=%M cpu-s=%U+%S', command, ...args], { cwd, maxBuffer: 64 * 2 ** 20 })
    : await execFileAsync(command, [...args], { cwd, maxBuffer: 64 * 2 ** 20 });
  const wallMs = performance.now() - started;
  const kb = /maxrss-kb=(\d+)/.exec(stderr)?.[1];
  const cpu = /cpu-s=([\d.]+)\+([\d.]+)/.exec(stderr);
  return { wallMs, cpuMs: cpu ? (Number(cpu[1]) + Number(cpu[2])) * 1000 : undefined, peakRssBytes: kb === undefined ? undefined : Number(kb) * 1024 };
}

/**
 * Bundles the child as the deployed Lambda is bundled (esbuild, one ES module, the SDK
 * included), so its RSS is a deployed function's and not a TypeScript loader's.
 */
async function bundleChild(outdir: string): Promise<string> {
  const outfile = join(outdir, 'initial-sync-child.mjs');
  await build({
    entryPoints: [CHILD],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    minify: true,
    mainFields: ['module', 'main'],
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    logLevel: 'error',
  });
  return outfile;
}

async function child(bundle: string, request: ChildRequest, cpuProfileDir: string | undefined): Promise<ChildResult> {
  const profile = cpuProfileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir, '--cpu-prof-name', `${request.mode}-${'env' in request ? request.env.FETCH_ENGINE : 'clone'}-${Date.now()}.cpuprofile`];
  const proc = spawn(process.execPath, [...profile, bundle, JSON.stringify(request)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR', POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_DEV: 'true' },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
  const line = stdout.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`initial sync child (${request.mode}) failed (${code}): ${stderr}`);
  return JSON.parse(line) as ChildResult;
}

async function packBytes(gitDir: string): Promise<number> {
  const dir = join(gitDir, 'objects', 'pack');
  let total = 0;
  for (const name of await readdir(dir)) if (name.endsWith('.pack')) total += (await stat(join(dir, name))).size;
  return total;
}

function run(
  measured: { wallMs: number; cpuMs: number | undefined; peakRssBytes: number | undefined; rssBeforeBytes?: number; processPeakRssBytes?: number },
  pack: number,
  baseline: { wallMs: number; cpuMs: number | undefined },
): Run {
  const { wallMs, cpuMs, peakRssBytes } = measured;
  return {
    wallMs: Math.round(wallMs),
    cpuMs: cpuMs === undefined ? undefined : Math.round(cpuMs),
    cpuRatio: ratio(cpuMs, baseline.cpuMs),
    ...(measured.rssBeforeBytes === undefined ? {} : { rssBeforeBytes: measured.rssBeforeBytes }),
    ...(measured.processPeakRssBytes === undefined ? {} : { processPeakRssBytes: measured.processPeakRssBytes }),
    peakRssBytes,
    rssPerPackByte: peakRssBytes === undefined ? undefined : Math.round((peakRssBytes / pack) * 100) / 100,
    ratio: ratio(wallMs, baseline.wallMs),
  };
}

/**
 * Initial sync of a whole repository. The same repository, served by the same local
 * `git http-backend`, is copied four ways, one after the other, each in its own process:
 * `git clone --bare` to local disk (the baseline: heads and tags), isomorphic-git's own clone to local
 * disk, and git-geo's real sync handler into S3 with each fetch engine. Peak RSS is the
 * process's own (GNU time for git, `process.resourceUsage()` for node, bundled by esbuild as
 * the deployed function is).
 */
export async function initialSync(bed: BenchBed, options: InitialSyncOptions): Promise<InitialSyncResult> {
  const repository = parseRepositoryPath('bench/initial');
  const primaryDir = bed.primaryPath(repository);
  if (options.bigMiB !== undefined) {
    await bed.createRepository(repository);
    options.log(`  initial sync: generating ${options.bigMiB} MiB of incompressible blobs`);
    await generateBigRepository(primaryDir, options.bigMiB);
    // Random blobs never deltify: the server (for git and git-geo alike) skips the futile delta search.
    await git(['config', 'pack.window', '0'], { cwd: primaryDir });
  } else if (options.repo === undefined) {
    await bed.createRepository(repository);
    options.log(`  initial sync: generating ${options.commits} commits over ${options.files} files`);
    await generateRepository(primaryDir, { commits: options.commits, files: options.files });
  } else {
    // Heads and tags, what git-geo mirrors (a snapshot may be a partial clone whose other refs lack objects).
    options.log(`  initial sync: copying the heads and tags of ${options.repo}`);
    await git(['clone', '-q', '--bare', options.repo, primaryDir]);
  }
  // Served as a primary would serve it: one packed, delta-compressed pack.
  await git(['repack', '-a', '-d', '-q'], { cwd: primaryDir });
  await git(['update-server-info'], { cwd: primaryDir });
  const objects = Number(/in-pack: (\d+)/.exec(await git(['count-objects', '-v'], { cwd: primaryDir }))?.[1] ?? 0);
  const refs = (await git(['for-each-ref', '--format=%(refname)'], { cwd: primaryDir })).trim().split('\n').filter(Boolean).length;
  const url = bed.repositoryUrl(repository);

  // The baseline fetches what git-geo mirrors by default: heads and tags (`--mirror` would add every other namespace).
  const nativeDir = join(bed.scratch, 'initial-native.git');
  const native = await timed('git', ['clone', '-q', '--bare', url, nativeDir]);
  const pack = await packBytes(nativeDir);
  await rm(nativeDir, { recursive: true, force: true });
  options.log(`  initial sync: ${objects} objects, ${(pack / 2 ** 20).toFixed(1)} MiB pack; git clone --bare ${Math.round(native.wallMs)} ms`);

  const bundle = await bundleChild(bed.scratch);
  let iso: ChildResult | undefined;
  if (!options.skipIsomorphicClone) {
    const isoDir = join(bed.scratch, 'initial-isomorphic-git');
    iso = await child(bundle, { mode: 'isomorphic-git-clone', url, dir: isoDir }, options.cpuProfileDir);
    await rm(isoDir, { recursive: true, force: true });
    options.log(`  initial sync: isomorphic-git clone ${Math.round(iso.wallMs)} ms`);
  }

  const syncFunction = (region: string) => bed.runtime.lambdas.find((lambda) => lambda.fn.factory.includes('createSyncHandler') && lambda.fn.region === region);
  const gitGeo: Record<string, SyncRun> = {};
  for (const [index, engine] of options.engines.entries()) {
    const region = bed.regions[index % bed.regions.length]!;
    const fn = syncFunction(region);
    if (fn === undefined) throw new Error(`no sync function in ${region}`);
    const env = {
      ...fn.fn.environment,
      AWS_REGION: region,
      AWS_ENDPOINT_URL: bed.awsEndpoint,
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'test',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'test',
      FETCH_ENGINE: engine,
    };
    const emulatorBefore = await bed.emulatorCpuSeconds();
    const result = await child(bundle, { mode: 'git-geo-sync', env, repository }, options.cpuProfileDir);
    const emulatorAfter = await bed.emulatorCpuSeconds();
    const emulatorCpuMs = emulatorBefore === undefined || emulatorAfter === undefined ? undefined : Math.round((emulatorAfter - emulatorBefore) * 1000);
    const state = await bed.runtime.registry(region).get(repository);
    if (result.failures !== 0 || state?.status !== 'synced') throw new Error(`git-geo initial sync (${engine}) did not sync: ${JSON.stringify(state?.lastError ?? state?.status)}`);
    // Goal: memory independent of the pack's size.
    gitGeo[engine] = { ...run(result, pack, native), rssTargetBytes: 256 * 2 ** 20, ...(result.phases === undefined ? {} : { phases: result.phases }), ...(emulatorCpuMs === undefined ? {} : { emulatorCpuMs }) };
    const phases = result.phases === undefined ? '' : `; download and index ${result.phases.downloadAndIndexMs} ms, upload ${result.phases.uploadMs} ms, rest ${result.phases.restMs} ms`;
    options.log(`  initial sync: git-geo (${engine}) ${Math.round(result.wallMs)} ms, peak RSS ${Math.round(result.peakRssBytes / 2 ** 20)} MiB${phases}; emulator CPU ${emulatorCpuMs ?? '-'} ms`);
  }
  return {
    input: {
      source: options.bigMiB !== undefined ? `generated: ${options.bigMiB} MiB of incompressible blobs` : (options.repo ?? `generated: ${options.commits} commits over ${options.files} files`),
      objects,
      packBytes: pack,
      refs,
    },
    nativeCloneBare: run(native, pack, native),
    ...(iso === undefined ? {} : { isomorphicGitClone: run(iso, pack, native) }),
    gitGeo,
  };
}
