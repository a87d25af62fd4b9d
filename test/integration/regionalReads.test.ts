import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

/** Requests the primary git server saw for one repository since `mark`. */
function primaryRequests(bed: TestBed, repository: string, mark: number): { method: string; path: string; service: string | undefined }[] {
  return bed.primary.requests.slice(mark).filter((request) => request.path.startsWith(`/${repository}.git/`));
}

/** One HTTP request with the path exactly as given (fetch would normalise it). */
function rawRequest(base: string, options: { method?: string; path: string; body?: string }): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const headers = options.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(options.body)) };
    const req = httpRequest({ host: url.hostname, port: url.port, method: options.method ?? 'GET', path: options.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** The primary's event log, as the regional endpoints read it. */
function eventLog(bed: TestBed): EventLog {
  const { dynamodb } = bed.runtime.clients.region(bed.runtime.primary.region);
  return new EventLog(DynamoDBDocumentClient.from(dynamodb), bed.runtime.primary.eventLogTable);
}

/** Waits until every region holds the primary's refs and has processed every recorded event. */
async function converge(bed: TestBed, repository: RepositoryPath, authorization?: string): Promise<void> {
  const latest = await eventLog(bed).latest(repository);
  await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 60_000, minSequence: latest?.latestSequence ?? 0, ...(authorization ? { authorization } : {}) });
}

describe('reading from a region: a regional endpoint that is never stale', () => {
  let bed: TestBed;
  let gitUrl: string;
  const repository = parseRepositoryPath('team/fresh-app');

  beforeAll(async () => {
    bed = await startTestBed({ config: { readOnlyRegions: ['ap-southeast-2'] } });
    gitUrl = bed.runtime.regions['eu-west-1']!.gitUrl;
    await bed.createRepository(repository);
    const work = await bed.workingCopy(repository);
    await commit(work, 3, 'initial');
    // Incompressible, so the pack is larger than a buffered Function URL response may be (6 MB).
    await writeFile(join(work, 'blob.bin'), randomBytes(7 * 1024 * 1024));
    await git(['add', 'blob.bin'], { cwd: work });
    await git(['commit', '-q', '-m', 'a large file'], { cwd: work });
    await git(['tag', '-a', 'v1.0.0', '-m', 'release'], { cwd: work });
    await git(['push', '-q', 'origin', 'main', '--tags'], { cwd: work });
    await bed.notifyPushes();
    await converge(bed, repository);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  it('the ready line names each region’s Git URL, derived from the template', () => {
    const line = bed.runtime.readyLine() as { regions: Record<string, { gitUrl: string }> };
    expect(line.regions['eu-west-1']?.gitUrl).toBe(`${bed.runtime.endpoint}/eu-west-1`);
    expect(line.regions['ap-southeast-2']?.gitUrl).toBe(`${bed.runtime.endpoint}/ap-southeast-2`);
  });

  it('a fresh copy: stock git clone, ls-remote, fetch and pull are served by the region, and the primary is not asked', async () => {
    const primaryRefs = await listRefs(`${bed.primary.url}/${repository}.git`);
    const mark = bed.primary.requests.length;

    const clone = join(bed.root, 'fresh-clone');
    await git(['clone', '-q', `${gitUrl}/${repository}.git`, clone]);
    await git(['fsck', '--full', '--strict'], { cwd: clone });
    expect(await listRefs(`${gitUrl}/${repository}.git`)).toEqual(primaryRefs);
    expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe(primaryRefs.get('refs/heads/main'));
    expect((await git(['rev-parse', 'v1.0.0^{commit}'], { cwd: clone })).trim()).toBe(primaryRefs.get('refs/heads/main'));
    await git(['fetch', '-q', 'origin'], { cwd: clone });
    await git(['pull', '-q', '--ff-only'], { cwd: clone });

    expect(primaryRequests(bed, repository, mark)).toEqual([]);
    const smart = await fetch(`${gitUrl}/${repository}.git/info/refs?service=git-upload-pack`);
    expect(smart.headers.get('content-type')).toBe('application/x-git-upload-pack-advertisement');
    expect(await smart.text()).toContain(`${primaryRefs.get('refs/heads/main')} refs/heads/main`);
    const response = await fetch(`${gitUrl}/${repository}.git/info/refs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(response.headers.get('x-git-geo-region')).toBe('eu-west-1');
    expect(await response.text()).toBe((await bed.runtime.mirrors('eu-west-1').get(`${repository}.git/info/refs`))!.toString());
    expect(primaryRequests(bed, repository, mark)).toEqual([]);
  });

  it('a stale copy: the client is sent to the primary and gets exactly what the primary has', async () => {
    const work = await bed.workingCopy(repository);
    const head = await commit(work, 2, 'not-yet-replicated');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    // Its change event is recorded and its sync not done, as between a webhook and its sync.
    await eventLog(bed).nextSequence(repository, new Date().toISOString());
    expect((await bed.runtime.registry('eu-west-1').get(repository))?.refs?.['refs/heads/main']).not.toBe(head);

    const redirect = await fetch(`${gitUrl}/${repository}.git/info/refs?service=git-upload-pack`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(`${bed.primary.url}/${repository}.git/info/refs?service=git-upload-pack`);

    const mark = bed.primary.requests.length;
    const clone = join(bed.root, 'stale-clone');
    await git(['clone', '-q', `${gitUrl}/${repository}.git`, clone]);
    expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe(head);
    expect(await listRefs(`${gitUrl}/${repository}.git`)).toEqual(await listRefs(`${bed.primary.url}/${repository}.git`));
    await git(['fsck', '--full', '--strict'], { cwd: clone });
    expect(primaryRequests(bed, repository, mark).some((request) => request.method === 'POST' && request.service === 'git-upload-pack')).toBe(true);

    await bed.notifyPushes();
    await converge(bed, repository);
    const primaryRefs = await listRefs(`${bed.primary.url}/${repository}.git`);
    const again = bed.primary.requests.length;
    expect(await listRefs(`${gitUrl}/${repository}.git`)).toEqual(primaryRefs);
    expect(primaryRequests(bed, repository, again)).toEqual([]);
  });

  it('a push through the regional URL lands on the primary; a fetch right after sees it; then it replicates', async () => {
    const pusher = join(bed.root, 'pusher');
    const reader = join(bed.root, 'reader');
    await git(['clone', '-q', `${gitUrl}/${repository}.git`, pusher]);
    await git(['clone', '-q', `${gitUrl}/${repository}.git`, reader]);
    const head = await commit(pusher, 1, 'pushed-through-the-region');
    await git(['push', '-q', 'origin', 'main'], { cwd: pusher });

    expect((await listRefs(`${bed.primary.url}/${repository}.git`)).get('refs/heads/main')).toBe(head);
    expect(bed.pushes.at(-1)?.repository).toBe(repository);
    const state = await bed.runtime.registry('eu-west-1').get(repository);
    expect(state?.refs?.['refs/heads/main']).not.toBe(head);
    expect(state?.writePendingAt).toEqual(expect.any(String));

    // Before the webhook: the region is behind, and the reader still sees the push.
    await git(['fetch', '-q', 'origin'], { cwd: reader });
    expect((await git(['rev-parse', 'origin/main'], { cwd: reader })).trim()).toBe(head);
    expect((await listRefs(`${gitUrl}/${repository}.git`)).get('refs/heads/main')).toBe(head);

    await bed.notifyPushes();
    await converge(bed, repository);
    expect((await bed.runtime.registry('eu-west-1').get(repository))?.refs?.['refs/heads/main']).toBe(head);
    // Replicated: the region serves again; while the push's window lasts it only compares refs with the primary.
    const mark = bed.primary.requests.length;
    await git(['pull', '-q', '--ff-only'], { cwd: reader });
    expect((await git(['rev-parse', 'HEAD'], { cwd: reader })).trim()).toBe(head);
    const asked = primaryRequests(bed, repository, mark);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((request) => request.method === 'GET' && request.path.endsWith('/info/refs'))).toBe(true);
  });

  it('a read-only region serves its copy even when behind, and refuses pushes with a 403 that names the primary', async () => {
    const readOnly = bed.runtime.regions['ap-southeast-2']!.gitUrl;
    const refused = await fetch(`${readOnly}/${repository}.git/info/refs?service=git-receive-pack`, { redirect: 'manual' });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { message: string }).message).toContain(`${bed.primary.url}/${repository}.git`);

    const work = await bed.workingCopy(repository);
    await commit(work, 1, 'behind-in-read-only');
    await expect(git(['push', '-q', `${readOnly}/${repository}.git`, 'main'], { cwd: work })).rejects.toThrow();
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    await eventLog(bed).nextSequence(repository, new Date().toISOString());

    const held = (await bed.runtime.registry('ap-southeast-2').get(repository))?.refs ?? {};
    const primaryMain = (await listRefs(`${bed.primary.url}/${repository}.git`)).get('refs/heads/main');
    const mark = bed.primary.requests.length;
    const served = await listRefs(`${readOnly}/${repository}.git`);
    expect(Object.fromEntries([...served].filter(([name]) => name !== 'HEAD'))).toEqual(held);
    expect(served.get('refs/heads/main')).not.toBe(primaryMain);
    expect(primaryRequests(bed, repository, mark)).toEqual([]);
    const response = await fetch(`${readOnly}/${repository}.git/info/refs`);
    expect(response.headers.get('x-git-geo-freshness')).toBe('behind');

    await bed.notifyPushes();
    await converge(bed, repository);
  });

  const badRequests: [string, { method?: string; path: string; body?: string }, number, string][] = [
    ['a path whose first segment starts with "-"', { path: '/eu-west-1/-rf/app.git/info/refs' }, 400, 'ERR_VALIDATION'],
    ['an inner .git segment', { path: '/eu-west-1/team/a.git/b.git/info/refs' }, 400, 'ERR_VALIDATION'],
    ['a namespace reserved for git-geo', { path: '/eu-west-1/.git-geo/state.git/HEAD' }, 400, 'ERR_VALIDATION'],
    ['an empty segment', { path: '/eu-west-1/team//fresh-app.git/info/refs' }, 400, 'ERR_VALIDATION'],
    ['a percent-escape', { path: '/eu-west-1/team/fresh%00app.git/info/refs' }, 400, 'ERR_VALIDATION'],
    ['a file that is not part of the dumb protocol', { path: '/eu-west-1/team/fresh-app.git/config' }, 400, 'ERR_VALIDATION'],
    ['an unsupported service', { path: '/eu-west-1/team/fresh-app.git/info/refs?service=git-upload-archive' }, 400, 'ERR_VALIDATION'],
    ['an unknown repository', { path: '/eu-west-1/team/no-such-repo.git/info/refs?service=git-upload-pack' }, 404, 'ERR_REPOSITORY_NOT_FOUND'],
    // What a private repository the region holds answers an anonymous caller: no telling them apart.
    ['a file of an unknown repository', { path: '/eu-west-1/team/no-such-repo.git/HEAD' }, 401, 'ERR_UNAUTHENTICATED'],
    ['PUT', { method: 'PUT', path: '/eu-west-1/team/fresh-app.git/info/refs' }, 405, 'ERR_METHOD'],
    ['a GET of a service endpoint', { path: '/eu-west-1/team/fresh-app.git/git-upload-pack' }, 405, 'ERR_METHOD'],
    ['an oversize URL', { path: `/eu-west-1/team/fresh-app.git/info/refs?service=git-upload-pack&pad=${'x'.repeat(3000)}` }, 414, 'ERR_URI_TOO_LONG'],
    ['a GET with a body', { path: '/eu-west-1/team/fresh-app.git/info/refs', body: 'x'.repeat(4096) }, 413, 'ERR_PAYLOAD_TOO_LARGE'],
  ];

  it.each(badRequests)('refuses %s with a clear 4xx and no stack trace', async (_name, request, status, code) => {
    const response = await rawRequest(bed.runtime.endpoint, request);
    expect(response.status).toBe(status);
    const body = JSON.parse(response.body) as { error: string; message: string };
    expect(body.error).toBe(code);
    expect(body.message.length).toBeGreaterThan(10);
    expect(response.body).not.toMatch(/\n\s+at |\.ts:\d+/);
    if (status === 405) expect(response.headers.allow).toEqual(expect.any(String));
  });
});
