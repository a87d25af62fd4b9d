import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateRepository } from '../../bin/local/generateRepository.ts';
import { git } from '../../bin/local/git.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { BenchBed } from '../BenchBed.ts';
import { ratio } from '../stats.ts';

export interface ManyRefsSyncOptions {
  /** Branches besides main, all on one commit (written straight into packed-refs). */
  readonly refs: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

interface Side {
  readonly wallMs: number;
  /** Bytes the primary sent for it (ref listing and pack), per region for git-geo. */
  readonly bytesFromPrimary: number;
  readonly requests: number;
}

export interface ManyRefsSyncResult {
  readonly refs: number;
  readonly regions: number;
  /** First sync of the repository into every region, beside `git clone --bare`. */
  readonly initial: { readonly gitGeo: Side; readonly nativeCloneBare: Side; readonly ratio: number | undefined };
  /** One commit pushed to main: webhook to every region synced, beside `git fetch` into the bare clone. */
  readonly incremental: { readonly gitGeo: Side; readonly nativeFetch: Side; readonly ratio: number | undefined; readonly bytesRatio: number | undefined };
}

/**
 * Incremental sync of a repository with many refs (100,000 in full mode): what one push costs
 * when the primary's ref listing is large. git-geo asks the primary with protocol v2 `ls-refs`
 * and `ref-prefix` for the mirrored namespaces; the baseline is a `git clone --bare` of the same
 * refs, then `git fetch` of the same push. Bytes are the primary's responses (listing and pack).
 */
export async function manyRefsSync(bed: BenchBed, options: ManyRefsSyncOptions): Promise<ManyRefsSyncResult> {
  const repository = parseRepositoryPath('many-refs/big');
  const path = bed.primaryPath(repository);
  await git(['init', '--bare', '-q', '-b', 'main', path]);
  await generateRepository(path, { commits: 20, files: 10 });
  await git(['pack-refs', '--all'], { cwd: path });
  const head = (await git(['rev-parse', 'main'], { cwd: path })).trim();
  // Sorted after refs/heads/main, so packed-refs stays sorted.
  const lines = Array.from({ length: options.refs }, (_, index) => `${head} refs/heads/many/b${String(index).padStart(6, '0')}\n`).join('');
  await appendFile(join(path, 'packed-refs'), lines);
  options.log(`  many refs: ${options.refs} branches on the primary`);

  const measure = async (since: number, userAgent: (agent: string | undefined) => boolean): Promise<{ bytes: number; requests: number }> => {
    await bed.primary.flush();
    const requests = bed.primary.requests.slice(since).filter((request) => userAgent(request.userAgent) && request.path.startsWith(`/${repository}.git/`));
    return { bytes: requests.reduce((sum, request) => sum + request.bytes, 0), requests: requests.length };
  };
  const isGitGeo = (agent: string | undefined): boolean => agent === 'git-geo';
  const isGit = (agent: string | undefined): boolean => agent?.startsWith('git/') === true;
  const regions = bed.regions.length;
  const perRegion = (side: { bytes: number; requests: number }, wallMs: number): Side => ({ wallMs: Math.round(wallMs), bytesFromPrimary: Math.round(side.bytes / regions), requests: Math.round((side.requests / regions) * 10) / 10 });

  // Initial: the webhook of main's creation, to every region synced.
  let mark = bed.primary.requests.length;
  let started = performance.now();
  const first = await bed.notify(repository, { ref: 'refs/heads/main', before: '0'.repeat(40), after: head });
  await bed.waitForSync(repository, first, options.timeoutMs, 500);
  const initialGitGeo = perRegion(await measure(mark, isGitGeo), performance.now() - started);
  mark = bed.primary.requests.length;
  const clone = join(bed.scratch, 'many-refs-native.git');
  started = performance.now();
  await git(['clone', '--bare', '-q', bed.repositoryUrl(repository), clone]);
  const cloneMs = performance.now() - started;
  const cloned = await measure(mark, isGit);
  const nativeCloneBare: Side = { wallMs: Math.round(cloneMs), bytesFromPrimary: cloned.bytes, requests: cloned.requests };
  options.log(`  many refs: initial sync ${initialGitGeo.wallMs} ms, git clone --bare ${nativeCloneBare.wallMs} ms`);

  // Incremental: one commit on main.
  const tree = (await git(['rev-parse', 'main^{tree}'], { cwd: path })).trim();
  const next = (await git(['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit-tree', tree, '-p', head, '-m', 'one more'], { cwd: path })).trim();
  await bed.primary.updateRef(repository, 'refs/heads/main', next, head);
  mark = bed.primary.requests.length;
  started = performance.now();
  const second = await bed.notify(repository, { ref: 'refs/heads/main', before: head, after: next });
  await bed.waitForSync(repository, second, options.timeoutMs, 100);
  const incrementalGitGeo = perRegion(await measure(mark, isGitGeo), performance.now() - started);
  mark = bed.primary.requests.length;
  started = performance.now();
  await git(['fetch', '-q', 'origin', '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'], { cwd: clone });
  const fetchMs = performance.now() - started;
  const fetched = await measure(mark, isGit);
  const nativeFetch: Side = { wallMs: Math.round(fetchMs), bytesFromPrimary: fetched.bytes, requests: fetched.requests };
  options.log(`  many refs: incremental sync ${incrementalGitGeo.wallMs} ms and ${incrementalGitGeo.bytesFromPrimary} bytes, git fetch ${nativeFetch.wallMs} ms and ${nativeFetch.bytesFromPrimary} bytes`);
  return {
    refs: options.refs + 1,
    regions,
    initial: { gitGeo: initialGitGeo, nativeCloneBare, ratio: ratio(initialGitGeo.wallMs, nativeCloneBare.wallMs) },
    incremental: {
      gitGeo: incrementalGitGeo,
      nativeFetch,
      ratio: ratio(incrementalGitGeo.wallMs, nativeFetch.wallMs),
      bytesRatio: ratio(incrementalGitGeo.bytesFromPrimary, nativeFetch.bytesFromPrimary),
    },
  };
}
