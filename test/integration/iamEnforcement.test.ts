import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { AccessDeniedError } from '../../bin/local/iam/iamEnforcement.ts';
import { WithoutGrant } from '../../bin/local/iam/WithoutGrant.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

/**
 * The local runtime runs the esbuild bundles `cdk deploy` ships, each function under its own
 * role's policies from the template. One stack here lacks one grant: the sync of ap-southeast-2
 * may not write objects to its mirror bucket. eu-west-1, with every grant, serves the push.
 */
describe('the local runtime runs the bundles with each function role enforced', () => {
  let bed: TestBed;
  const repository = parseRepositoryPath('iam/enforced');
  const withoutPut = new WithoutGrant(/Region-ap-southeast-2\/.*\bSync\/ServiceRole\//, 's3:PutObject');

  beforeAll(async () => {
    bed = await startTestBed({ aspects: [withoutPut] });
    await bed.createRepository(repository);
    const work = await bed.workingCopy(repository);
    await commit(work, 2, 'initial');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    expect(await bed.notifyPushes()).toEqual([202]);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('runs every function from its bundle in the cloud assembly', () => {
    expect(bed.runtime.lambdas.length).toBeGreaterThan(0);
    for (const lambda of bed.runtime.lambdas) {
      expect(lambda.fn.bundle).toMatch(/node_modules\/\.cache\/git-geo-bundles\/[0-9a-f]+\/[^/]+\/index\.mjs$/);
      expect(lambda.fn.role?.policies.length).toBeGreaterThan(0);
    }
  });

  it('push, sync and clone through a region whose roles have every grant', async () => {
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, regions: ['eu-west-1'], timeoutMs: 60_000 });
    const clone = join(await mkdtemp(join(bed.root, 'clone-')), 'work');
    await git(['clone', '-q', `${bed.runtime.regions['eu-west-1']!.gitUrl}/${repository}.git`, clone]);
    expect((await listRefs(clone)).get('refs/heads/main')).toBe((await listRefs(`${bed.primary.url}/${repository}.git`)).get('refs/heads/main'));
  });

  it('a sync whose role lacks s3:PutObject fails with AccessDenied naming the action and the object', async () => {
    expect(withoutPut.removed).toBeGreaterThan(0);
    const bucket = bed.runtime.regions['ap-southeast-2']!.bucket;
    const deadline = Date.now() + 60_000;
    let denied: AccessDeniedError | undefined;
    while (denied === undefined && Date.now() < deadline) {
      denied = bed.errors.find((error): error is AccessDeniedError => error instanceof AccessDeniedError && error.resource.startsWith(`arn:aws:s3:::${bucket}/`));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(denied?.name).toBe('AccessDenied');
    expect(denied?.message).toMatch(/is not authorized to perform: s3:PutObject on resource: arn:aws:s3:::.*\/iam\/enforced\.git\//);
    expect(denied?.$metadata.httpStatusCode).toBe(403);
    // Nothing reached the bucket, and the region never reports the repository synced.
    expect((await bed.runtime.registry('ap-southeast-2').get(repository))?.status).not.toBe('synced');
    expect(bed.errors.filter((error) => error instanceof AccessDeniedError && !error.resource.startsWith(`arn:aws:s3:::${bucket}/`))).toEqual([]);
  });
});
