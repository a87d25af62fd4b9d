import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { encodeFlush, encodePktLine } from '../../lambdas/shared/git/pktLine.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { pushAndConverge } from '../helpers/pushAndConverge.ts';
import { openRepository, primaryUploadPacks, storedPackNames } from '../helpers/regionReads.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const DELIM = Buffer.from('0001');

/** Objects in a repository, loose and packed (a small fetch is unpacked into loose objects). */
async function objectCount(dir: string): Promise<number> {
  const counts = await git(['count-objects', '-v'], { cwd: dir });
  return Number(/^count: (\d+)/m.exec(counts)![1]) + Number(/^in-pack: (\d+)/m.exec(counts)![1]);
}

/** What a failing git command said on stderr. */
async function gitFailure(args: readonly string[], cwd?: string): Promise<string> {
  try {
    await git(args, cwd === undefined ? {} : { cwd });
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error);
  }
  throw new Error(`git ${args.join(' ')} succeeded`);
}

/**
 * Git's protocol v2 served by a region from its own packs: shallow clones (which dumb HTTP
 * cannot do), deepening, full clones and incremental fetches, all with stock git, all without
 * asking the primary; and a client that does not ask for smart HTTP still gets dumb HTTP.
 */
describe('reading from a region over protocol v2: shallow clones, fetches, full clones', () => {
  let bed: TestBed;
  let url: string;
  let primaryUrl: string;
  let work: string;
  const repository = parseRepositoryPath('smart/app');

  const push = (args: readonly string[]): Promise<void> => pushAndConverge(bed, work, repository, args);

  beforeAll(async () => {
    bed = await startTestBed();
    ({ url, primaryUrl, work } = await openRepository(bed, repository));
    // Three syncs, so the mirror holds three packs and a fetch reads across them.
    await commit(work, 8, 'base');
    await git(['tag', '-a', 'v1', '-m', 'first release'], { cwd: work });
    await git(['tag', '-a', 'v1-signed-off', '-m', 'a tag of a tag', 'v1'], { cwd: work });
    await push(['main', '--tags']);
    await git(['checkout', '-q', '-b', 'feature'], { cwd: work });
    await commit(work, 4, 'feature');
    await push(['feature']);
    await git(['checkout', '-q', 'main'], { cwd: work });
    await commit(work, 5, 'more');
    await git(['merge', '-q', '--no-ff', '-m', 'merge feature', 'feature'], { cwd: work });
    await git(['tag', 'light'], { cwd: work });
    await push(['main', 'light']);
    expect((await storedPackNames(bed, repository)).size).toBeGreaterThanOrEqual(3);
  }, 300_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it('git clone --depth 1 is served by the region: one commit, shallow, fsck clean, and the primary is not asked', async () => {
    const primaryRefs = await listRefs(primaryUrl);
    const mark = bed.primary.requests.length;
    const clone = join(bed.root, 'depth-1');
    await git(['clone', '-q', '--depth', '1', url, clone]);
    expect((await git(['rev-parse', '--is-shallow-repository'], { cwd: clone })).trim()).toBe('true');
    expect((await git(['rev-list', '--count', 'HEAD'], { cwd: clone })).trim()).toBe('1');
    expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe(primaryRefs.get('refs/heads/main'));
    await git(['fsck', '--full', '--strict'], { cwd: clone });
    // The whole tree of that commit is there.
    expect((await git(['ls-tree', '-r', '--name-only', 'HEAD'], { cwd: clone })).trim().split('\n').length).toBeGreaterThan(1);
    expect(primaryUploadPacks(bed, repository, mark)).toEqual([]);
  });

  it('git fetch --depth and --unshallow deepen from the region exactly as from the primary', async () => {
    const [regional, primary] = [join(bed.root, 'deepen-region'), join(bed.root, 'deepen-primary')];
    const history = async (dir: string): Promise<string> => git(['rev-list', '--all', '--topo-order'], { cwd: dir });
    const isShallow = async (dir: string): Promise<string> => (await git(['rev-parse', '--is-shallow-repository'], { cwd: dir })).trim();
    // What the primary itself answers, first: then every request to it counts against the region.
    await git(['clone', '-q', '--depth', '2', primaryUrl, primary]);
    const primaryDepth2 = await history(primary);
    await git(['fetch', '-q', '--depth', '5'], { cwd: primary });
    const primaryDepth5 = await history(primary);
    const primaryBare = join(bed.root, 'primary', `${repository}.git`);
    const fullCount = (await git(['rev-list', '--count', 'main'], { cwd: primaryBare })).trim();
    const mark = bed.primary.requests.length;

    await git(['clone', '-q', '--depth', '2', url, regional]);
    expect(await history(regional)).toBe(primaryDepth2);
    await git(['fetch', '-q', '--depth', '5'], { cwd: regional });
    expect(await history(regional)).toBe(primaryDepth5);
    expect(await isShallow(regional)).toBe('true');
    // Only tags are new to the client here: the unshallow must not depend on what it wants.
    await git(['fetch', '-q', '--unshallow', '--tags'], { cwd: regional });
    expect(await isShallow(regional)).toBe('false');
    expect((await git(['rev-list', '--count', 'origin/main'], { cwd: regional })).trim()).toBe(fullCount);
    await git(['fsck', '--full', '--strict'], { cwd: regional });
    expect(primaryUploadPacks(bed, repository, mark)).toEqual([]);
  });

  it('a full clone over v2 has every ref and tag of the primary (a tag of a tag too), and a later fetch brings only the new objects', async () => {
    const primaryRefs = await listRefs(primaryUrl);
    const mark = bed.primary.requests.length;
    const clone = join(bed.root, 'full');
    await git(['clone', '-q', '--mirror', url, clone]);
    expect(await listRefs(clone)).toEqual(primaryRefs);
    await git(['fsck', '--full', '--strict'], { cwd: clone });
    expect((await git(['cat-file', '-t', 'v1-signed-off'], { cwd: clone })).trim()).toBe('tag');

    expect(primaryUploadPacks(bed, repository, mark)).toEqual([]);
    await commit(work, 2, 'later');
    await push(['main']);
    const newMain = (await listRefs(primaryUrl)).get('refs/heads/main');
    const fetchMark = bed.primary.requests.length;
    const before = await objectCount(clone);
    await git(['fetch', '-q', url, '+refs/heads/*:refs/heads/*'], { cwd: clone });
    const after = await objectCount(clone);
    expect((await listRefs(clone)).get('refs/heads/main')).toBe(newMain);
    // Two commits, their trees and two new files: a handful of objects, not the repository again.
    expect(after - before).toBeGreaterThan(0);
    expect(after - before).toBeLessThanOrEqual(8);
    await git(['fsck', '--full', '--strict'], { cwd: clone });
    expect(primaryUploadPacks(bed, repository, fetchMark)).toEqual([]);
  });

  it('a client that does not ask for smart HTTP still clones over dumb HTTP', async () => {
    const clone = join(bed.root, 'dumb');
    await git(['clone', '-q', url, clone], { env: { GIT_SMART_HTTP: '0' } });
    expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe((await listRefs(primaryUrl)).get('refs/heads/main'));
    const refs = await fetch(`${url}/info/refs`);
    expect(refs.headers.get('content-type')).toBe('text/plain; charset=utf-8');
  });

  it('what a region cannot serve is refused with a message git shows, not a wrong answer', async () => {
    const message = await gitFailure(['clone', '-q', '--filter=sparse:oid=main:.sparse', url, join(bed.root, 'sparse')]);
    expect(message).toMatch(/filter "sparse:oid=main:.sparse" is not served by git-geo regions/);
  });

  it('bad upload-pack requests get a clear 4xx or an ERR line, and nothing else', async () => {
    const post = (body: Buffer, headers: Record<string, string> = {}): Promise<Response> =>
      fetch(`${url}/git-upload-pack`, { method: 'POST', body, headers: { 'git-protocol': 'version=2', 'content-type': 'application/x-git-upload-pack-request', ...headers } });
    const garbage = await post(Buffer.from('not pkt-lines at all'));
    expect(garbage.status).toBe(400);
    expect(await garbage.text()).toMatch(/malformed pkt-line/);
    const unknown = await post(Buffer.concat([encodePktLine('command=push\n'), DELIM, encodeFlush()]));
    expect(unknown.status).toBe(400);
    expect(await unknown.text()).toMatch(/unknown upload-pack command/);
    const stranger = await post(Buffer.concat([encodePktLine('command=fetch\n'), DELIM, encodePktLine(`want ${'1'.repeat(40)}\n`), encodePktLine('done\n'), encodeFlush()]));
    // Not held here: the primary is asked, and its answer passed on.
    expect(stranger.status).toBe(200);
    expect(stranger.headers.get('x-git-geo-answered-by')).toBe('primary');
    expect(await stranger.text()).toContain(`not our ref ${'1'.repeat(40)}`);
    const badGzip = await post(Buffer.from('not gzip'), { 'content-encoding': 'gzip' });
    expect(badGzip.status).toBe(400);
    expect(await badGzip.text()).toMatch(/not valid gzip/);
  });
});
