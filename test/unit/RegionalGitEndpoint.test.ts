import { describe, expect, it } from '@jest/globals';
import type { Readable } from 'node:stream';
import { AccessChecker } from '../../lambdas/endpoint/AccessChecker.ts';
import { parseGitRequest } from '../../lambdas/endpoint/parseGitRequest.ts';
import { RegionalGitEndpoint, type EndpointSettings } from '../../lambdas/endpoint/RegionalGitEndpoint.ts';
import { GeoError } from '../../lambdas/shared/errors/index.ts';
import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { MemoryObjectStore } from '../../lambdas/shared/storage/MemoryObjectStore.ts';
import type { ObjectUrls } from '../../lambdas/shared/storage/ObjectUrls.ts';

const NOW = new Date('2024-05-01T12:00:00.000Z');
const repository = parseRepositoryPath('group/project');
const PACK = `pack-${'1'.repeat(40)}`;
// Nothing listens here: a test that asked the primary would fail with a 503, and `checks` counts the asks.
const UNREACHABLE = 'http://127.0.0.1:9';

function setup(options: { state?: Partial<RepositoryState> | null; latest?: number | null; settings?: Partial<EndpointSettings>; packBytes?: number; withRefs?: boolean; urls?: ObjectUrls } = {}) {
  const store = new MemoryObjectStore();
  if (options.withRefs ?? true) void store.put(`${repository}.git/info/refs`, `${'a'.repeat(40)}\trefs/heads/main\n`);
  void store.put(`${repository}.git/HEAD`, 'ref: refs/heads/main\n');
  void store.put(`${repository}.git/objects/info/packs`, `P ${PACK}.pack\n\n`);
  void store.put(`${repository}.git/objects/pack/${PACK}.pack`, Buffer.alloc(options.packBytes ?? 100));
  const state: RepositoryState | undefined =
    options.state === null
      ? undefined
      : { repository, replicable: 'git', status: 'synced', attempts: 0, updatedAt: NOW.toISOString(), syncedSequence: 3, anonymousRead: true, accessCheckedAt: NOW.toISOString(), ...options.state };
  const marks: string[] = [];
  const primary = new PrimaryRemote({ baseUrl: UNREACHABLE, timeoutMs: 2000 });
  const access = new AccessChecker(primary, { allowedTtlMs: 60_000, deniedTtlMs: 10_000 });
  const endpoint = new RegionalGitEndpoint({
    registry: {
      get: (path: RepositoryPath) => Promise.resolve(path === repository ? state : undefined),
      markWritePending: (_path: RepositoryPath, at: string) => Promise.resolve(void marks.push(at)),
    },
    eventLog: { latest: () => Promise.resolve(options.latest === null ? undefined : { latestSequence: options.latest ?? 3, latestReceivedAt: NOW.toISOString() }) },
    store,
    primary,
    access,
    ...(options.urls === undefined ? {} : { urls: options.urls }),
    now: () => NOW,
    settings: { region: 'eu-west-1', primaryUrl: 'https://primary.example.com', mode: 'redirect', writePendingMs: 300_000, anonymousTrustMs: 300_000, refNamespaces: ['refs/heads/', 'refs/tags/'], maxPackBytes: 1000, allowReachableSha1InWant: true, ...options.settings },
  });
  const request = (method: string, path: string, query = '', headers: Record<string, string> = {}) =>
    endpoint.handle(parseGitRequest({ method, rawPath: path, rawQueryString: query, headers, bodyBytes: 0 }));
  return { request, access, marks };
}

async function refusal(promise: Promise<unknown>): Promise<{ status: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof GeoError) return { status: error.status, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('RegionalGitEndpoint', () => {
  it('serves a fresh public repository’s refs without asking the primary; a HEAD request gets headers only', async () => {
    const { request, access } = setup();
    const response = await request('GET', '/group/project.git/info/refs');
    expect(response).toMatchObject({ statusCode: 200, outcome: 'served', headers: { 'content-type': 'text/plain; charset=utf-8', 'x-git-geo-freshness': 'current' } });
    const head = await request('HEAD', '/group/project.git/info/refs');
    expect(head).toMatchObject({ statusCode: 200, body: '' });
    expect(access.checks).toBe(0);
  });

  it('redirects with the path and query kept: 302 for a GET, 307 for a POST', async () => {
    const { request } = setup({ latest: 4 });
    expect(await request('GET', '/group/project.git/info/refs', 'service=git-upload-pack')).toMatchObject({
      statusCode: 302,
      outcome: 'redirected:behind',
      headers: { location: 'https://primary.example.com/group/project.git/info/refs?service=git-upload-pack' },
    });
    expect(await request('POST', '/group/project/git-receive-pack')).toMatchObject({
      statusCode: 307,
      headers: { location: 'https://primary.example.com/group/project.git/git-receive-pack' },
    });
  });

  it('marks a write pending on the push’s first request, for a repository it holds', async () => {
    const { request, marks } = setup();
    expect(await request('GET', '/group/project.git/info/refs', 'service=git-receive-pack')).toMatchObject({ statusCode: 302, outcome: 'redirected:write' });
    expect(marks).toEqual([NOW.toISOString()]);
  });

  it('while a write is pending, an anonymous reader of a repository not known to be public goes to the primary at once', async () => {
    const { request, access } = setup({ state: { writePendingAt: new Date(NOW.getTime() - 1000).toISOString(), anonymousRead: false } });
    expect(await request('GET', '/group/project.git/info/refs', 'service=git-upload-pack')).toMatchObject({ statusCode: 302, outcome: 'redirected:write-pending' });
    expect(access.checks).toBe(0);
  });

  it('a repository with a pack larger than a response may stream is still served here: its refs by the region, the pack by pre-signed URL', async () => {
    const urls: ObjectUrls = { signedGetUrl: (key) => Promise.resolve(`https://bucket.example/${key}?X-Amz-Signature=s`) };
    const { request } = setup({ packBytes: 1001, urls });
    expect(await request('GET', '/group/project.git/info/refs')).toMatchObject({ statusCode: 200, outcome: 'served' });
    const v2 = await request('GET', '/group/project.git/info/refs', 'service=git-upload-pack', { 'git-protocol': 'version=2' });
    expect(v2).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/x-git-upload-pack-advertisement' } });
    const advertisement = Buffer.concat(await (v2.body as Readable).toArray()).toString();
    expect(advertisement).toContain('fetch=shallow filter packfile-uris\n');
    expect(await request('GET', `/group/project.git/objects/pack/${PACK}.pack`)).toMatchObject({
      statusCode: 302,
      outcome: 'served:signed-url',
      headers: { location: `https://bucket.example/group/project.git/objects/pack/${PACK}.pack?X-Amz-Signature=s` },
    });
    // Within the limit, the endpoint streams it (git follows no redirect there by default).
    const small = setup({ packBytes: 1000, urls });
    expect(await small.request('GET', `/group/project.git/objects/pack/${PACK}.pack`)).toMatchObject({ statusCode: 200, outcome: 'served' });
  });

  it('refs missing from the bucket while the registry says synced: the primary answers instead', async () => {
    const { request } = setup({ withRefs: false });
    expect(await request('GET', '/group/project.git/info/refs')).toMatchObject({ statusCode: 302, outcome: 'redirected:missing' });
  });

  it('a public record older than anonymousTrustSeconds is not trusted: the primary is asked (here it cannot be: 503)', async () => {
    const { request, access } = setup({ state: { accessCheckedAt: new Date(NOW.getTime() - 301_000).toISOString() } });
    expect(await refusal(request('GET', '/group/project.git/HEAD'))).toMatchObject({ status: 503 });
    expect(access.checks).toBe(1);
  });

  it('a file of a repository the region does not hold: 404 to a caller with credentials, and to an anonymous one what a private repository answers', async () => {
    const { request, access } = setup({ state: null });
    expect(await refusal(request('GET', '/group/project.git/HEAD', '', { authorization: 'Basic dTpw' }))).toEqual({ status: 404, message: 'region eu-west-1 holds no copy of group/project' });
    // The words of a held private repository's answer to an anonymous caller (see privateRegionalReads.test.ts).
    expect(await refusal(request('GET', '/group/project.git/HEAD'))).toEqual({ status: 401, message: 'this repository needs credentials' });
    expect(access.checks).toBe(0);
  });

  it('read-only: serves a copy that is behind, says so, refuses pushes naming the primary, 404s what it does not hold', async () => {
    const { request } = setup({ latest: 9, settings: { mode: 'read-only' } });
    expect(await request('GET', '/group/project.git/info/refs')).toMatchObject({ statusCode: 200, headers: { 'x-git-geo-freshness': 'behind' } });
    expect(await refusal(request('GET', '/group/project.git/info/refs', 'service=git-receive-pack'))).toEqual({
      status: 403,
      message: 'region eu-west-1 is read-only: push to https://primary.example.com/group/project.git',
    });
    const unheld = setup({ state: null, settings: { mode: 'read-only' } });
    expect(await refusal(unheld.request('GET', '/group/project.git/info/refs', '', { authorization: 'Basic dTpw' }))).toMatchObject({ status: 404 });
    expect(await refusal(unheld.request('GET', '/group/project.git/info/refs'))).toMatchObject({ status: 401 });
  });
});
