import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from '../../bin/local/git.ts';
import { enableLfs, LFS_FILTERS } from '../../bin/local/gitLfs.ts';
import type { LocalLambda } from '../../bin/local/LocalLambda.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { ItemRegistry } from '../../lambdas/replicable/ItemRegistry.ts';
import { readRegionStatus } from '../../lambdas/status/deploymentStatus.ts';
import { lfsObjectKey } from '../../lambdas/shared/lfs/LfsPointer.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { basicAuthorization } from '../../lambdas/shared/secrets/SecretReader.ts';
import type { VerifyResult } from '../../lambdas/verify/createVerifyHandler.ts';
import { startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';

const REGION = 'eu-west-1';
const USERS = { alice: 'alice-password' };
const ALICE = basicAuthorization({ username: 'alice', password: USERS.alice });
const LFS_TYPE = 'application/vnd.git-lfs+json';
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('Git LFS through a region, with the real git-lfs client', () => {
  let bed: TestBed;
  let gitUrl: string;
  let verify: LocalLambda;
  const open = parseRepositoryPath('media/assets');
  const secret = parseRepositoryPath('secret/models');
  /** The LFS files pushed to each repository, by name. */
  const files = new Map<RepositoryPath, Map<string, Buffer>>();
  const withAlice = (url: string): string => url.replace('http://', `http://alice:${USERS.alice}@`);

  /** Pushes LFS files (and one ordinary file) to the primary with git-lfs, and waits until the region has the commit. */
  async function pushLfs(repository: RepositoryPath, content: Record<string, Buffer>): Promise<void> {
    const work = join(bed.root, `work-${repository.replace('/', '-')}-${files.size}`);
    if (!existsSync(join(bed.root, 'primary', `${repository}.git`))) await bed.createRepository(repository);
    await git([...LFS_FILTERS, 'clone', '-q', withAlice(`${bed.primary.url}/${repository}.git`), work]);
    await enableLfs(work, ['*.bin']);
    const held = files.get(repository) ?? new Map<string, Buffer>();
    for (const [name, bytes] of Object.entries(content)) {
      await writeFile(join(work, name), bytes);
      held.set(name, bytes);
    }
    files.set(repository, held);
    await writeFile(join(work, 'README.md'), `${repository}\n`);
    await git(['add', '-A'], { cwd: work });
    await git(['commit', '-q', '-m', 'assets'], { cwd: work });
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, authorization: ALICE, regions: [REGION], timeoutMs: 90_000 });
  }

  const documents = () => DynamoDBDocumentClient.from(bed.runtime.clients.region(REGION).dynamodb, { marshallOptions: { removeUndefinedValues: true } });
  const bucket = () => ({ s3: bed.runtime.clients.region(REGION).s3, name: bed.runtime.regions[REGION]!.bucket });
  async function stored(repository: RepositoryPath, oid: string): Promise<Buffer | undefined> {
    const { s3, name } = bucket();
    try {
      const answer = await s3.send(new GetObjectCommand({ Bucket: name, Key: lfsObjectKey(repository, oid) }));
      return Buffer.from(await answer.Body!.transformToByteArray());
    } catch {
      return undefined;
    }
  }
  const batch = (repository: RepositoryPath, objects: { oid: string; size: number }[], authorization?: string, operation = 'download') =>
    fetch(`${gitUrl}/${repository}.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { accept: LFS_TYPE, 'content-type': LFS_TYPE, ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ operation, transfers: ['basic'], objects }),
    });

  beforeAll(async () => {
    bed = await startTestBed({
      server: { users: USERS, isPrivate: (repository) => repository.startsWith('secret/') },
      primaryCredentials: { username: 'alice', password: USERS.alice },
      config: { secondaryRegions: [REGION], primaryCredentialsSecretName: 'git-geo/primary-read-credentials', verifyIntervalHours: 0 },
    });
    gitUrl = bed.runtime.regions[REGION]!.gitUrl;
    verify = bed.runtime.lambdas.find((lambda) => lambda.name === bed.runtime.regions[REGION]!.verifyFunctionName)!;
    await pushLfs(open, { 'model.bin': randomBytes(3 * 1024 * 1024 + 17), 'tiny.bin': randomBytes(100) });
    await pushLfs(secret, { 'weights.bin': randomBytes(200 * 1024) });
  }, 240_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it('the sync copies every LFS object the new commits point at into the region, byte for byte', async () => {
    for (const [repository, held] of files) {
      for (const bytes of held.values()) expect((await stored(repository, sha256(bytes)))?.equals(bytes)).toBe(true);
    }
  });

  it('a clone through the region smudges every file while the primary is unreachable', async () => {
    await bed.primary.pause();
    try {
      const clone = join(bed.root, 'clone-through-region');
      await git([...LFS_FILTERS, 'clone', '-q', `${gitUrl}/${open}.git`, clone]);
      for (const [name, bytes] of files.get(open)!) expect((await readFile(join(clone, name))).equals(bytes)).toBe(true);
      // The answer names the region's bucket, with no credentials for that other host.
      const [name, bytes] = [...files.get(open)!][0]!;
      const answer = (await (await batch(open, [{ oid: sha256(bytes), size: bytes.length }])).json()) as { objects: { actions: { download: { href: string; header?: object } } }[] };
      const download = answer.objects[0]!.actions.download;
      expect(download.header).toBeUndefined();
      expect(new URL(download.href).origin).toBe(new URL(bed.runtime.awsEndpoint).origin);
      expect(name).toBe('model.bin');
    } finally {
      await bed.primary.start();
    }
  });

  it('an object corrupted in the region is found by verification, never served, and repaired', async () => {
    const bytes = files.get(open)!.get('model.bin')!;
    const oid = sha256(bytes);
    const corrupt = Buffer.from(bytes);
    corrupt[12345] = corrupt[12345]! ^ 0xff; // same size: only a re-hash can tell
    const { s3, name } = bucket();
    await s3.send(new PutObjectCommand({ Bucket: name, Key: lfsObjectKey(open, oid), Body: corrupt }));
    const result = (await verify.invoke({ action: 'verify', repository: open, force: true })) as VerifyResult;
    const outcome = result.outcomes?.[open];
    expect(outcome).toEqual(expect.objectContaining({ kind: 'verified', blobs: { 'lfs-object': expect.objectContaining({ items: 2, failed: [oid], fetched: 1 }) } }));
    expect((await stored(open, oid))?.equals(bytes)).toBe(true);
    // Each object has its registry row: verified, the corrupted one with the time it was repaired; status counts them by type.
    const rows = await new ItemRegistry(documents(), bed.runtime.regions[REGION]!.registryTable).list(open, 'lfs-object');
    expect(rows.map((row) => [row.id, row.status, row.repairedAt === undefined ? 'intact' : 'repaired']).sort()).toEqual(
      [...files.get(open)!.values()].map((held) => [sha256(held), 'verified', sha256(held) === oid ? 'repaired' : 'intact']).sort(),
    );
    const { byType } = await readRegionStatus({ region: REGION, registryTable: bed.runtime.regions[REGION]!.registryTable }, { documents, sqs: () => bed.runtime.clients.region(REGION).sqs }, { leaseSeconds: 900, lagSloSeconds: 60, backupIntervalMinutes: 60 });
    expect(byType['lfs-object']).toEqual(expect.objectContaining({ items: 3, failed: 0 }));
    expect(byType['lfs-object']!.verified).toBeGreaterThanOrEqual(2);
  });

  it("a private repository's objects are refused without credentials and served with them", async () => {
    const bytes = files.get(secret)!.get('weights.bin')!;
    const object = { oid: sha256(bytes), size: bytes.length };
    const anonymous = await batch(secret, [object]);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('lfs-authenticate')).toMatch(/^Basic/);
    expect(await anonymous.text()).not.toContain(object.oid.slice(0, 10) + '/');
    const wrong = await batch(secret, [object], basicAuthorization({ username: 'alice', password: 'wrong' }));
    expect(wrong.status).toBe(401);
    const allowed = await batch(secret, [object], ALICE);
    expect(allowed.status).toBe(200);
    const href = ((await allowed.json()) as { objects: { actions: { download: { href: string } } }[] }).objects[0]!.actions.download.href;
    expect(Buffer.from(await (await fetch(href)).arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("a wiki is replicated from its own event (GitLab's Wiki Page Hook) and cloned through the region", async () => {
    const wikiRepository = parseRepositoryPath(`${open}.wiki`);
    await bed.createRepository(wikiRepository);
    // The host's wiki editor writes the wiki repository itself; no push hook announces it.
    const work = join(bed.root, 'wiki-work');
    await git(['init', '-q', '-b', 'main', work]);
    await writeFile(join(work, 'Home.md'), '# Assets\n\nWhere the models live.\n');
    await git(['add', 'Home.md'], { cwd: work });
    await git(['commit', '-q', '-m', 'Create Home'], { cwd: work });
    await git(['push', '-q', join(bed.root, 'primary', `${wikiRepository}.git`), 'main'], { cwd: work });
    const hook = {
      object_kind: 'wiki_page',
      project: { path_with_namespace: open, web_url: `${bed.primary.url}/${open}`, git_http_url: `${bed.primary.url}/${open}.git` },
      wiki: { web_url: `${bed.primary.url}/${open}/-/wikis/home`, default_branch: 'main' },
      object_attributes: { title: 'Home', action: 'create', slug: 'home' },
    };
    const answer = await fetch(bed.runtime.webhookUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Wiki Page Hook', 'x-gitlab-token': WEBHOOK_SECRET, 'x-gitlab-event-uuid': crypto.randomUUID() },
      body: JSON.stringify(hook),
    });
    expect(answer.status).toBeLessThan(300);
    await waitForConvergence({ runtime: bed.runtime, repository: wikiRepository, primaryUrl: bed.primary.url, authorization: ALICE, regions: [REGION], timeoutMs: 90_000 });
    await bed.primary.pause();
    try {
      const clone = join(bed.root, 'wiki-clone');
      await git(['clone', '-q', `${gitUrl}/${wikiRepository}.git`, clone]);
      expect(await readFile(join(clone, 'Home.md'), 'utf8')).toContain('Where the models live.');
    } finally {
      await bed.primary.start();
    }
  });

  it('git lfs push through the regional URL lands on the primary', async () => {
    const work = join(bed.root, 'push-through-region');
    await git([...LFS_FILTERS, 'clone', '-q', `${gitUrl}/${open}.git`, work]);
    await enableLfs(work, ['*.bin']);
    // A credential helper, as a user has: git-lfs and git ask it for the region's host and, after the redirect, the primary's.
    await git(['config', 'credential.helper', `!f() { test "$1" = get && printf 'username=alice\\npassword=${USERS.alice}\\n'; }; f`], { cwd: work });
    const bytes = randomBytes(64 * 1024);
    await writeFile(join(work, 'pushed.bin'), bytes);
    await git(['add', 'pushed.bin'], { cwd: work });
    await git(['commit', '-q', '-m', 'through the region'], { cwd: work });
    const mark = bed.primary.requests.length;
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    const oid = sha256(bytes);
    const onPrimary = join(bed.root, 'primary', `${open}.git`, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
    expect((await readFile(onPrimary)).equals(bytes)).toBe(true);
    // The batch and the lock check went through the region to the primary; the bytes went straight there.
    const lfsRequests = bed.primary.requests.slice(mark).filter((request) => request.path.includes('/info/lfs/'));
    expect(lfsRequests.map((request) => `${request.method} ${request.path.replace(/[0-9a-f]{64}/, '<oid>')}`)).toEqual(
      expect.arrayContaining([`POST /${open}.git/info/lfs/objects/batch`, `PUT /${open}.git/info/lfs/objects/<oid>`]),
    );
    // And the next sync brings it to the region.
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository: open, primaryUrl: bed.primary.url, authorization: ALICE, regions: [REGION], timeoutMs: 90_000 });
    expect((await stored(open, oid))?.equals(bytes)).toBe(true);
  });
});
