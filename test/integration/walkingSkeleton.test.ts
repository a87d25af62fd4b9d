import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { downloadMirror } from '../../bin/local/downloadMirror.ts';
import { git, listRefs } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

describe('walking skeleton: a push on the primary reaches every region', () => {
  let bed: TestBed;
  const repository = parseRepositoryPath('platform/service');

  beforeAll(async () => {
    bed = await startTestBed();
    await bed.createRepository(repository);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('mirrors branches and tags into every region as a repository stock git clones and fscks', async () => {
    const work = await bed.workingCopy(repository);
    await commit(work, 3, 'initial');
    await git(['checkout', '-q', '-b', 'feature/login'], { cwd: work });
    await commit(work, 2, 'feature');
    await git(['tag', '-a', 'v1.0.0', '-m', 'release 1.0.0'], { cwd: work });
    await git(['tag', 'lightweight'], { cwd: work });
    await git(['push', '-q', 'origin', 'main', 'feature/login', '--tags'], { cwd: work });
    const statuses = await bed.notifyPushes();
    expect(statuses.length).toBeGreaterThanOrEqual(4);
    expect(statuses.every((status) => status === 202)).toBe(true);

    const states = await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url });
    const primaryRefs = await listRefs(`${bed.primary.url}/${repository}.git`);
    expect(primaryRefs.get('HEAD')).toBe('refs/heads/main');

    for (const [region, state] of states) {
      expect(state.status).toBe('synced');
      expect(state.refCount).toBe(4);
      expect(state.refs).toEqual(Object.fromEntries([...primaryRefs].filter(([name]) => name !== 'HEAD')));
      const scratch = await mkdtemp(join(bed.root, `${region}-`));
      const mirrorDir = await downloadMirror(bed.runtime.mirrors(region), repository, scratch);
      // The bucket's objects alone make a bare repository: fsck it as it is, then clone it.
      await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: mirrorDir });
      const clone = join(scratch, 'clone.git');
      await git(['clone', '-q', '--mirror', mirrorDir, clone]);
      await git(['fsck', '--full', '--strict'], { cwd: clone });
      expect(await listRefs(clone)).toEqual(primaryRefs);
    }
  });

  it('brings only the new objects on the next push, in a new pack listed after the old one', async () => {
    const firstPacks = (await bed.runtime.mirrors('eu-west-1').get(`${repository}.git/objects/info/packs`))!.toString();
    const firstPack = /P (pack-[0-9a-f]+)\.pack/.exec(firstPacks)![1]!;
    const firstPackSize = (await bed.runtime.mirrors('eu-west-1').head(`${repository}.git/objects/pack/${firstPack}.pack`))!.size;
    const work = await bed.workingCopy(repository);
    const head = await commit(work, 1, 'follow-up');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    await bed.notifyPushes();
    const states = await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url });
    for (const [region, state] of states) {
      expect(state.refs?.['refs/heads/main']).toBe(head);
      expect(state.packCount).toBe(2);
      expect(state.lastFetchBytes).toBeGreaterThan(0);
      expect(state.lastFetchBytes).toBeLessThan(firstPackSize);
      const packs = (await bed.runtime.mirrors(region).get(`${repository}.git/objects/info/packs`))!.toString();
      // The pack list's `# git-geo` lines (sizes, tips) are comments git skips.
      expect(packs.trim().split('\n').filter((line) => !line.startsWith('#'))).toEqual([`P ${firstPack}.pack`, expect.stringMatching(/^P pack-[0-9a-f]{40}\.pack$/)]);
    }
  });
});
