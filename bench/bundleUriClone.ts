/**
 * A clone of a big repository through a region with `--bundle-uri` against one without, beside
 * `git clone` from the primary, in the same run (local runtime, Lambda's streaming limits honoured):
 *
 *     npx tsx bench/bundleUriClone.ts [MiB=64] [runs=3]
 *
 * The repository is generated (incompressible blobs), synced once (its first sync writes the
 * bundle), then 20 more commits are pushed and synced, so a seeded clone also fetches what is newer
 * than its bundle from the region.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateRepository } from '../bin/local/generateRepository.ts';
import { git } from '../bin/local/git.ts';
import { MirrorRepository } from '../lambdas/shared/git/MirrorRepository.ts';
import { parseRepositoryPath } from '../lambdas/shared/repositoryPath.ts';
import { BenchBed } from './BenchBed.ts';
import { generateBigRepository } from './generateBigRepository.ts';

const execFileAsync = promisify(execFile);

async function timed(args: readonly string[]): Promise<number> {
  const started = performance.now();
  await execFileAsync('git', [...args], { maxBuffer: 64 * 2 ** 20, env: { ...process.env, GIT_TERMINAL_PROMPT: '0' } });
  return performance.now() - started;
}

function median(values: readonly number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

async function main(): Promise<void> {
  const mib = Number(process.argv[2] ?? 64);
  const runs = Number(process.argv[3] ?? 3);
  const bed = await BenchBed.start({ regions: ['eu-west-1'], awsEndpoint: undefined, onError: (error) => console.error(error) });
  try {
    const repository = parseRepositoryPath('bench/bundled');
    const path = await bed.createRepository(repository);
    await generateBigRepository(path, mib);
    const first = (await git(['rev-parse', 'main'], { cwd: path })).trim();
    await bed.waitForSync(repository, await bed.notify(repository, { ref: 'refs/heads/main', before: '0'.repeat(40), after: first }), 900_000, 500);
    await generateRepository(path, { commits: 20, files: 20, parent: first, seed: 7, startAt: 1_900_000_000 });
    const later = (await git(['rev-parse', 'main'], { cwd: path })).trim();
    await bed.waitForSync(repository, await bed.notify(repository, { ref: 'refs/heads/main', before: first, after: later }), 900_000, 500);
    const state = await new MirrorRepository(bed.runtime.mirrors('eu-west-1'), repository).readState();
    if (state?.bundle === undefined) throw new Error('the first sync wrote no bundle');
    const bundleBytes = (await bed.runtime.mirrors('eu-west-1').head(`${repository}.git/bundles/${state.bundle.name}.bundle`))?.size ?? 0;
    console.log(`repository: ${mib} MiB generated, ${state.packs.length} stored packs, bundle ${(bundleBytes / 2 ** 20).toFixed(1)} MiB`);

    const regionUrl = `${bed.runtime.regions['eu-west-1']!.gitUrl}/${repository}.git`;
    const primaryUrl = bed.repositoryUrl(repository);
    const ways: Record<string, (dir: string) => readonly string[]> = {
      'primary (git http-backend)': (dir) => ['clone', '-q', '--bare', primaryUrl, dir],
      'region, --bundle-uri': (dir) => ['clone', '-q', '--bare', `--bundle-uri=${regionUrl}/bundle`, regionUrl, dir],
      'region, plain': (dir) => ['clone', '-q', '--bare', regionUrl, dir],
      'region, fetch.uriProtocols (packfile-uris)': (dir) => ['-c', 'fetch.uriProtocols=http,https', 'clone', '-q', '--bare', regionUrl, dir],
    };
    const times = new Map<string, number[]>(Object.keys(ways).map((label) => [label, []]));
    let n = 0;
    for (let run = 0; run < runs; run++) {
      for (const [label, args] of Object.entries(ways)) {
        const dir = join(bed.scratch, `clone-${n++}`);
        const ms = await timed(args(dir));
        const main = (await git(['rev-parse', 'refs/heads/main'], { cwd: dir })).trim();
        if (main !== later) throw new Error(`${label}: cloned main ${main}, expected ${later}`);
        times.get(label)!.push(ms);
        await rm(dir, { recursive: true, force: true });
      }
    }
    const primary = median(times.get('primary (git http-backend)')!);
    for (const [label, values] of times) {
      console.log(`${label}: median ${(median(values) / 1000).toFixed(1)} s (${values.map((ms) => (ms / 1000).toFixed(1)).join(', ')}), ${(median(values) / primary).toFixed(2)}× the primary`);
    }
  } finally {
    await bed.stop();
  }
}

await main();
