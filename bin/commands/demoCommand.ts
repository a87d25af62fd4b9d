import cliProgress from 'cli-progress';
import Table from 'cli-table3';
import { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { downloadMirror } from '../local/downloadMirror.ts';
import { generateRepository } from '../local/generateRepository.ts';
import { git, listRefs } from '../local/git.ts';
import { enableLfs, LFS_FILTERS } from '../local/gitLfs.ts';
import { gitlabPushHook, sendWebhook } from '../local/gitlabPushHook.ts';
import { startGitServer, type GitServer, type RefUpdate } from '../local/startGitServer.ts';
import { startLocalRuntime, type LocalRuntime } from '../local/startLocalRuntime.ts';
import { waitForConvergence, type ConvergenceProgress } from '../local/waitForConvergence.ts';
import { projectConfig, splitList } from './projectConfig.ts';
import { quietLambdaLogs } from './quietLambdaLogs.ts';

const SECRET = 'demo-webhook-secret';
const say = (line: string): void => void process.stdout.write(`${line}\n`);

interface RegionResult {
  readonly region: string;
  readonly status: string;
  readonly refs: number;
  readonly lagMs: number | undefined;
  readonly packs: number | undefined;
  readonly cloned: boolean;
  readonly fsck: boolean;
  readonly refsMatch: boolean;
}

/** Shows each region's progress: bars on a terminal, one line per change elsewhere. */
function progressReporter(regions: readonly string[]): { update(progress: readonly ConvergenceProgress[], latest: number): void; stop(): void } {
  if (process.stderr.isTTY) {
    const bars = new cliProgress.MultiBar(
      { format: ' {region} |{bar}| {value}/{total} events  {status}', hideCursor: true, clearOnComplete: false, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    const byRegion = new Map(regions.map((region) => [region, bars.create(1, 0, { region: region.padEnd(16), status: 'pending' })]));
    return {
      update(progress, latest) {
        for (const entry of progress) {
          const done = entry.converged ? latest : Math.min(entry.state?.syncedSequence ?? 0, latest);
          byRegion.get(entry.region)?.setTotal(latest);
          byRegion.get(entry.region)?.update(done, { status: entry.converged ? 'synced' : (entry.state?.status ?? 'pending') });
        }
      },
      stop: () => bars.stop(),
    };
  }
  const last = new Map<string, string>();
  return {
    update(progress, latest) {
      for (const entry of progress) {
        const line = `${entry.state?.status ?? 'pending'} ${Math.min(entry.state?.syncedSequence ?? 0, latest)}/${latest}${entry.converged ? ' converged' : ''}`;
        if (last.get(entry.region) !== line) process.stderr.write(`  ${entry.region}: ${line}\n`);
        last.set(entry.region, line);
      }
    },
    stop: () => undefined,
  };
}

async function notify(runtime: LocalRuntime, primaryUrl: string, pushes: { repository: string; updates: readonly RefUpdate[] }[]): Promise<number> {
  let latest = 0;
  for (const push of pushes.splice(0)) {
    for (const update of push.updates) {
      const response = await sendWebhook(runtime.webhookUrl, gitlabPushHook({ primaryUrl, repository: push.repository, update, token: SECRET }));
      if (response.status !== 202) throw new Error(`webhook for ${update.ref} answered ${response.status}: ${JSON.stringify(response.body)}`);
      const events = response.body.events as { sequence: number }[];
      latest = Math.max(latest, ...events.map((event) => event.sequence));
      say(`  webhook ${update.ref.padEnd(24)} ${update.before.slice(0, 8)}..${update.after.slice(0, 8)} -> event #${events[0]?.sequence}`);
    }
  }
  return latest;
}

async function converge(runtime: LocalRuntime, repository: RepositoryPath, primaryUrl: string, latest: number): Promise<void> {
  const reporter = progressReporter(Object.keys(runtime.regions));
  try {
    await waitForConvergence({ runtime, repository, primaryUrl, timeoutMs: 45_000, minSequence: latest, onProgress: (progress) => reporter.update(progress, latest) });
  } finally {
    reporter.stop();
  }
}

async function verifyRegion(runtime: LocalRuntime, region: string, repository: RepositoryPath, primaryRefs: Map<string, string>, scratch: string): Promise<RegionResult> {
  const state = await runtime.registry(region).get(repository);
  const base = { region, status: state?.status ?? 'missing', refs: state?.refCount ?? 0, lagMs: state?.lagMs, packs: state?.packCount };
  const dir = await mkdtemp(join(scratch, `${region}-`));
  try {
    const mirror = await downloadMirror(runtime.mirrors(region), repository, dir);
    const clone = join(dir, 'clone');
    await git(['clone', '-q', '--mirror', mirror, clone]);
    const fsck = await git(['fsck', '--full', '--strict'], { cwd: clone }).then(() => true, () => false);
    const cloned = await listRefs(clone);
    const refsMatch = cloned.size === primaryRefs.size && [...primaryRefs].every(([name, oid]) => cloned.get(name) === oid);
    return { ...base, cloned: true, fsck, refsMatch };
  } catch {
    return { ...base, cloned: false, fsck: false, refsMatch: false };
  }
}

interface RegionalClone {
  readonly url: string;
  readonly refs: number;
  readonly refsMatch: boolean;
  readonly fsck: boolean;
  /** The region the endpoint says served the refs. */
  readonly servedBy: string | null;
  /** Requests the primary saw for the repository during the regional clone. */
  readonly primaryRequests: number;
  readonly regionMs: number;
  readonly primaryMs: number;
}

/** Clones through a region's endpoint with stock git, checks it, and times it against a clone from the primary. */
async function cloneFromRegion(runtime: LocalRuntime, primary: GitServer, region: string, repository: RepositoryPath, primaryRefs: Map<string, string>, scratch: string): Promise<RegionalClone> {
  const url = `${runtime.regions[region]!.gitUrl}/${repository}.git`;
  const mark = primary.requests.length;
  const started = Date.now();
  const dir = join(scratch, `clone-from-${region}`);
  await git(['clone', '-q', url, dir]);
  const regionMs = Date.now() - started;
  const asked = primary.requests.slice(mark).filter((request) => request.path.startsWith(`/${repository}.git/`)).length;
  const fsck = await git(['fsck', '--full', '--strict'], { cwd: dir }).then(() => true, () => false);
  const cloned = await listRefs(url);
  const refsMatch = cloned.size === primaryRefs.size && [...primaryRefs].every(([name, oid]) => cloned.get(name) === oid);
  const refsResponse = await fetch(`${url}/info/refs?service=git-upload-pack`, { redirect: 'manual' });
  await refsResponse.body?.cancel();
  // A redirect to the primary names the region too; only a 200 was served by it.
  const servedBy = refsResponse.status === 200 ? refsResponse.headers.get('x-git-geo-region') : null;
  const primaryStarted = Date.now();
  await git(['clone', '-q', `${primary.url}/${repository}.git`, join(scratch, 'clone-from-primary')]);
  return { url, refs: cloned.size - (cloned.has('HEAD') ? 1 : 0), refsMatch, fsck, servedBy, primaryRequests: asked, regionMs, primaryMs: Date.now() - primaryStarted };
}

/**
 * Adds an LFS-tracked asset with the real git-lfs client, pushes it, waits for the regions, then
 * clones through a region with the primary stopped: the file must be smudged from the region's bucket.
 */
async function lfsThroughRegion(runtime: LocalRuntime, primary: GitServer, region: string, repository: RepositoryPath, work: string, pushes: { repository: string; updates: readonly RefUpdate[] }[], scratch: string): Promise<{ ok: boolean; bytes: number }> {
  await git(['checkout', '-q', 'main'], { cwd: work });
  await enableLfs(work, ['*.bin']);
  const asset = randomBytes(2 * 1024 * 1024);
  await writeFile(join(work, 'model.bin'), asset);
  await git(['add', '.gitattributes', 'model.bin'], { cwd: work });
  await git(['commit', '-q', '-m', 'An LFS asset'], { cwd: work });
  await git(['push', '-q', 'origin', 'main'], { cwd: work });
  say(`  pushed model.bin (${asset.length} bytes) with git-lfs; the primary's LFS API holds it`);
  await converge(runtime, repository, primary.url, await notify(runtime, primary.url, pushes));
  await primary.pause();
  try {
    const dir = join(scratch, `lfs-clone-from-${region}`);
    await git([...LFS_FILTERS, 'clone', '-q', `${runtime.regions[region]!.gitUrl}/${repository}.git`, dir]);
    const cloned = await readFile(join(dir, 'model.bin'));
    say(`  primary stopped; git clone through ${region}: model.bin ${cloned.equals(asset) ? 'smudged, bytes equal' : 'WRONG BYTES'} (${cloned.length} bytes)`);
    return { ok: cloned.equals(asset), bytes: cloned.length };
  } catch (error) {
    say(`  FAILED: ${(error as Error).message.split('\n')[0]}`);
    return { ok: false, bytes: 0 };
  } finally {
    await primary.start();
  }
}

export function demoCommand(): Command {
  return new Command('demo')
    .description('replicate a generated repository to every secondary region on this machine (moto + a local git server), clone each copy with stock git, then clone through a region\'s Git URL')
    .option('--regions <list>', 'secondary regions, comma-separated', 'eu-west-1,ap-southeast-2')
    .option('--commits <n>', 'commits in the generated history', (value) => Number.parseInt(value, 10), 1500)
    .option('--verbose', 'show Lambda logs', false)
    .action(async (options: { regions: string; commits: number; verbose: boolean }) => {
      quietLambdaLogs(options.verbose);
      const started = Date.now();
      const scratch = await mkdtemp(join(tmpdir(), 'git-geo-demo-'));
      const repository = parseRepositoryPath('demo/sample-app');
      const pushes: { repository: string; updates: readonly RefUpdate[] }[] = [];
      const primary = await startGitServer({ root: join(scratch, 'primary'), onPush: (repo, updates) => void pushes.push({ repository: repo, updates }) });
      let runtime: LocalRuntime | undefined;
      try {
        say(`git-geo demo: primary git server at ${primary.url}`);
        const work = join(scratch, 'work');
        await git(['init', '--bare', '-q', '-b', 'main', join(scratch, 'primary', `${repository}.git`)]);
        await git(['init', '-q', '-b', 'main', work]);
        const generated = await generateRepository(join(work, '.git'), { commits: options.commits });
        await git(['reset', '-q', '--hard', 'main'], { cwd: work });
        await git(['remote', 'add', 'origin', `${primary.url}/${repository}.git`], { cwd: work });
        say(`generated ${repository}: ${generated.commits} commits over ${generated.files} files`);

        say('starting git-geo locally (moto, CDK synth, every Lambda in-process)...');
        runtime = await startLocalRuntime({
          // The demo's primary needs no read credentials.
          config: { ...projectConfig({ secondaryRegions: splitList(options.regions), primaryUrls: [primary.url], stackPrefix: 'GitGeoDemo' }), primaryCredentialsSecretName: undefined },
          webhookSecret: SECRET,
          onError: (error) => options.verbose && process.stderr.write(`[runtime] ${String(error)}\n`),
        });
        say(`ready: webhook ${runtime.webhookUrl}, regions ${Object.keys(runtime.regions).join(', ')}`);

        say('\n1. initial push of the whole history');
        await git(['push', '-q', 'origin', 'main'], { cwd: work });
        await converge(runtime, repository, primary.url, await notify(runtime, primary.url, pushes));

        say('\n2. new commits, a feature branch and a release tag');
        await generateRepository(join(work, '.git'), { commits: 5, parent: 'refs/heads/main^0', seed: 7, startAt: 1_800_000_000 });
        await git(['reset', '-q', '--hard', 'main'], { cwd: work });
        await git(['checkout', '-q', '-b', 'feature/geo-demo'], { cwd: work });
        await generateRepository(join(work, '.git'), { commits: 3, branch: 'feature/geo-demo', parent: 'refs/heads/feature/geo-demo^0', seed: 9, startAt: 1_800_100_000 });
        await git(['tag', '-a', 'v1.0.0', '-m', 'git-geo demo release', 'main'], { cwd: work });
        await git(['push', '-q', 'origin', 'main', 'feature/geo-demo', 'v1.0.0'], { cwd: work });
        await converge(runtime, repository, primary.url, await notify(runtime, primary.url, pushes));

        say('\n3. proving every region: clone its copy with stock git, fsck it, compare refs with the primary');
        const primaryRefs = await listRefs(`${primary.url}/${repository}.git`);
        const results = await Promise.all(Object.keys(runtime.regions).map((region) => verifyRegion(runtime!, region, repository, primaryRefs, scratch)));
        const table = new Table({
          head: ['region', 'status', 'refs', 'lag (ms)', 'packs', 'git clone', 'git fsck', 'refs = primary'],
          ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
        });
        const mark = (ok: boolean): string => (ok ? 'ok' : 'FAILED');
        for (const result of results) {
          table.push([result.region, result.status, result.refs, result.lagMs ?? '-', result.packs ?? '-', mark(result.cloned), mark(result.fsck), mark(result.refsMatch)]);
        }
        say(table.toString());

        const [readRegion] = Object.keys(runtime.regions);
        say(`\n4. cloning from ${readRegion}'s Git URL with stock git, as a user near that region would`);
        const regional = await cloneFromRegion(runtime, primary, readRegion!, repository, primaryRefs, scratch);
        say(`  git clone ${regional.url}`);
        say(`  ${regional.refsMatch && regional.fsck ? 'ok' : 'FAILED'}: HEAD and ${regional.refs} refs = primary, fsck ${regional.fsck ? 'clean' : 'FAILED'}; served by ${regional.servedBy ?? 'nobody'}, ${regional.primaryRequests} request(s) to the primary for it`);
        say(`  clone from ${readRegion}: ${regional.regionMs} ms; the same clone from the primary: ${regional.primaryMs} ms (both on this machine)`);

        say(`\n5. Git LFS: an asset pushed with git-lfs, then cloned through ${readRegion} while the primary is down`);
        const lfs = await lfsThroughRegion(runtime, primary, readRegion!, repository, work, pushes, scratch);
        const ok = results.every((result) => result.cloned && result.fsck && result.refsMatch) && regional.refsMatch && regional.fsck && regional.primaryRequests === 0 && regional.servedBy === readRegion && lfs.ok;
        say(`\n${ok ? 'every region holds a verified copy' : 'SOME REGIONS FAILED'} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        process.exitCode = ok ? 0 : 1;
      } finally {
        await runtime?.stop();
        await primary.stop();
        await rm(scratch, { recursive: true, force: true });
      }
    });
}
