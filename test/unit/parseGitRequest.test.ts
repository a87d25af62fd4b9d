import { describe, expect, it } from '@jest/globals';
import { gzipSync } from 'node:zlib';
import { parseGitRequest, REQUEST_LIMITS, type RawHttpRequest } from '../../lambdas/endpoint/parseGitRequest.ts';
import { GeoError } from '../../lambdas/shared/errors/index.ts';

const PACK = `pack-${'ab'.repeat(20)}`;

function raw(overrides: Partial<RawHttpRequest>): RawHttpRequest {
  return { method: 'GET', rawPath: '/group/project.git/info/refs', rawQueryString: '', headers: {}, bodyBytes: 0, ...overrides };
}

function refusal(request: RawHttpRequest): { status: number; code: string } {
  try {
    parseGitRequest(request);
  } catch (error) {
    if (error instanceof GeoError) return { status: error.status, code: error.code };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('parseGitRequest', () => {
  it.each([
    ['/group/project.git/info/refs', 'git-upload-pack', 'refs', 'info/refs'],
    ['/group/project.git/info/refs', '', 'refs', 'info/refs'],
    ['/group/project.git/info/refs', 'git-receive-pack', 'write', 'info/refs'],
    ['/group/project.git/HEAD', '', 'file', 'HEAD'],
    ['/group/project.git/objects/info/packs', '', 'file', 'objects/info/packs'],
    [`/group/project.git/objects/pack/${PACK}.pack`, '', 'file', `objects/pack/${PACK}.pack`],
    [`/group/project.git/objects/pack/${PACK}.idx`, '', 'file', `objects/pack/${PACK}.idx`],
    [`/group/project.git/objects/ab/${'c'.repeat(38)}`, '', 'absent', `objects/ab/${'c'.repeat(38)}`],
    ['/group/project.git/objects/info/http-alternates', '', 'absent', 'objects/info/http-alternates'],
    ['/group/project.git/objects/info/alternates', '', 'absent', 'objects/info/alternates'],
  ])('%s?service=%s is a %s request for %s', (rawPath, service, action, file) => {
    const request = parseGitRequest(raw({ rawPath, rawQueryString: service ? `service=${service}` : '' }));
    expect(request).toMatchObject({ repository: 'group/project', action, file, method: 'GET' });
  });

  it('takes the service POSTs, and classifies them as a smart read or a write', () => {
    expect(parseGitRequest(raw({ method: 'POST', rawPath: '/g/p.git/git-upload-pack', bodyBytes: 10_000 }))).toMatchObject({ action: 'smart-read', service: 'git-upload-pack' });
    expect(parseGitRequest(raw({ method: 'POST', rawPath: '/g/p.git/git-receive-pack', bodyBytes: 10_000 }))).toMatchObject({ action: 'write', service: 'git-receive-pack' });
  });

  it('recognises a protocol v2 client from Git-Protocol, and keeps an upload-pack body, gunzipped if git compressed it', () => {
    expect(parseGitRequest(raw({ headers: { 'git-protocol': 'version=2' } })).protocolVersion).toBe(2);
    expect(parseGitRequest(raw({ headers: { 'git-protocol': 'object-format=sha1:version=2' } })).protocolVersion).toBe(2);
    expect(parseGitRequest(raw({ headers: { 'git-protocol': 'version=1' } })).protocolVersion).toBe(1);
    expect(parseGitRequest(raw({})).protocolVersion).toBeUndefined();
    const body = Buffer.from('0014command=ls-refs\n0000');
    const post = (headers: Record<string, string>, sent: Buffer): RawHttpRequest =>
      raw({ method: 'POST', rawPath: '/g/p.git/git-upload-pack', headers, body: sent, bodyBytes: sent.length });
    expect(parseGitRequest(post({}, body)).body).toEqual(body);
    expect(parseGitRequest(post({ 'content-encoding': 'gzip' }, gzipSync(body))).body).toEqual(body);
    expect(refusal(post({ 'content-encoding': 'gzip' }, body))).toEqual({ status: 400, code: 'ERR_VALIDATION' });
    expect(refusal(post({ 'content-encoding': 'br' }, body))).toEqual({ status: 400, code: 'ERR_VALIDATION' });
    // A small body that inflates past the limit is refused before it is held whole.
    const bomb = gzipSync(Buffer.alloc(REQUEST_LIMITS.maxUploadPackRequestBytes + 1));
    expect(bomb.length).toBeLessThan(100_000);
    expect(refusal(post({ 'content-encoding': 'gzip' }, bomb))).toEqual({ status: 413, code: 'ERR_PAYLOAD_TOO_LARGE' });
  });

  it('accepts a repository path without .git and deep namespaces, and keeps the query as sent', () => {
    const request = parseGitRequest(raw({ rawPath: '/a/b/c/d/project/info/refs', rawQueryString: 'service=git-upload-pack' }));
    expect(request).toMatchObject({ repository: 'a/b/c/d/project', file: 'info/refs', query: 'service=git-upload-pack' });
  });

  it('a repository may itself be named like a git directory, as long as a known file follows', () => {
    expect(parseGitRequest(raw({ rawPath: '/group/objects/info/refs' }))).toMatchObject({ repository: 'group/objects', file: 'info/refs' });
  });

  it('keeps the caller’s Authorization header, and treats an empty one as none', () => {
    expect(parseGitRequest(raw({ headers: { authorization: 'Basic YWxpY2U6cHc=' } })).authorization).toBe('Basic YWxpY2U6cHc=');
    expect(parseGitRequest(raw({ headers: { authorization: '  ' } })).authorization).toBeUndefined();
  });

  it.each([
    ['a ".." segment', raw({ rawPath: '/group/../project.git/info/refs' }), 400, 'ERR_VALIDATION'],
    ['a leading "-"', raw({ rawPath: '/-group/project.git/info/refs' }), 400, 'ERR_VALIDATION'],
    ['a percent-escape', raw({ rawPath: '/group/%2e%2e/project.git/info/refs' }), 400, 'ERR_VALIDATION'],
    ['an inner .git segment', raw({ rawPath: '/group.git/project.git/info/refs' }), 400, 'ERR_VALIDATION'],
    ['no repository', raw({ rawPath: '/info/refs' }), 400, 'ERR_VALIDATION'],
    ['a file outside the dumb protocol', raw({ rawPath: '/group/project.git/config' }), 400, 'ERR_VALIDATION'],
    ['a pack name that is not a hash', raw({ rawPath: '/group/project.git/objects/pack/pack-../../x.pack' }), 400, 'ERR_VALIDATION'],
    ['an unknown service', raw({ rawQueryString: 'service=git-upload-archive' }), 400, 'ERR_VALIDATION'],
    ['two services', raw({ rawQueryString: 'service=git-upload-pack&service=git-receive-pack' }), 400, 'ERR_VALIDATION'],
    ['DELETE', raw({ method: 'DELETE' }), 405, 'ERR_METHOD'],
    ['a POST of info/refs', raw({ method: 'POST' }), 405, 'ERR_METHOD'],
    ['a GET of a service', raw({ rawPath: '/group/project.git/git-receive-pack' }), 405, 'ERR_METHOD'],
    ['an oversize URL', raw({ rawQueryString: `service=git-upload-pack&x=${'y'.repeat(REQUEST_LIMITS.maxUrlLength)}` }), 414, 'ERR_URI_TOO_LONG'],
    ['a GET with a body', raw({ bodyBytes: REQUEST_LIMITS.maxReadBodyBytes + 1 }), 413, 'ERR_PAYLOAD_TOO_LARGE'],
    ['an oversize Authorization header', raw({ headers: { authorization: `Basic ${'x'.repeat(REQUEST_LIMITS.maxAuthorizationLength)}` } }), 400, 'ERR_VALIDATION'],
  ])('refuses %s', (_name, request, status, code) => {
    expect(refusal(request)).toEqual({ status, code });
  });

  it('a 405 names the method that is allowed', () => {
    try {
      parseGitRequest(raw({ method: 'PUT' }));
    } catch (error) {
      expect((error as GeoError).data.allow).toBe('GET, HEAD');
    }
    expect.assertions(1);
  });
});
