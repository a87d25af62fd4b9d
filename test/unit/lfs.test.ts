import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseLfsRequest } from '../../lambdas/endpoint/lfs/parseLfsRequest.ts';
import { RegionalLfsEndpoint } from '../../lambdas/endpoint/lfs/RegionalLfsEndpoint.ts';
import { LfsIntegrityError, PayloadTooLargeError, PrimaryUnavailableError, ValidationError } from '../../lambdas/shared/errors/index.ts';
import { findLfsPointers } from '../../lambdas/shared/lfs/findLfsPointers.ts';
import { LfsApi } from '../../lambdas/shared/lfs/LfsApi.ts';
import { lfsObjectKey, parseLfsPointer } from '../../lambdas/shared/lfs/LfsPointer.ts';
import { VerifyingStream } from '../../lambdas/shared/lfs/VerifyingStream.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { MemoryObjectStore } from '../../lambdas/shared/storage/MemoryObjectStore.ts';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
const pointer = (oid: string, size: number, extra = ''): string => `version https://git-lfs.github.com/spec/v1\n${extra}oid sha256:${oid}\nsize ${size}\n`;

describe('LFS pointers', () => {
  it('parses spec v1 pointers and nothing else', () => {
    const oid = sha256(Buffer.from('x'));
    expect(parseLfsPointer(Buffer.from(pointer(oid, 1)))).toEqual({ oid, size: 1 });
    expect(parseLfsPointer(Buffer.from(pointer(oid, 12, 'ext-0-foo sha256:' + oid + '\n')))).toEqual({ oid, size: 12 });
    expect(parseLfsPointer(Buffer.from(pointer(oid, 1).replace('v1', 'v2')))).toBeUndefined();
    expect(parseLfsPointer(Buffer.from(pointer(oid.slice(1), 1)))).toBeUndefined();
    expect(parseLfsPointer(Buffer.from(pointer(oid, 1) + ' '.repeat(1024)))).toBeUndefined();
    expect(parseLfsPointer(Buffer.from('hello\n'))).toBeUndefined();
  });

  it('finds every pointer in a real pack, whole or deltified, and no other blob', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lfs-pack-'));
    try {
      execFileSync('git', ['init', '-q', '--bare', dir]);
      const expected = new Map<string, number>();
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const oid = sha256(Buffer.from(`object ${i}`));
        expected.set(oid, 1000 + i);
        // Extension lines shared by every pointer make them similar enough for git to deltify.
        const shared = [0, 1, 2, 3].map((n) => `ext-${n}-filter sha256:${sha256(Buffer.from(`ext ${n}`))}\n`).join('');
        ids.push(execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: pointer(oid, 1000 + i, shared) }).toString().trim());
      }
      ids.push(execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: randomBytes(5000) }).toString().trim());
      ids.push(execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: `not a pointer\noid sha256:${sha256(Buffer.from('y'))}\n` }).toString().trim());
      execFileSync('git', ['pack-objects', '-q', '--window=50', join(dir, 'out')], { cwd: dir, input: `${ids.join('\n')}\n` });
      const name = readdirSync(dir).find((file) => file.startsWith('out-') && file.endsWith('.pack'))!;
      const pack = readFileSync(join(dir, name));
      const idx = readFileSync(join(dir, name.replace(/\.pack$/, '.idx')));
      const verified = execFileSync('git', ['verify-pack', '-v', join(dir, name)]).toString();
      expect(verified).toMatch(/ blob +\d+ \d+ \d+ \d+ [0-9a-f]{40}/); // some entries are deltas
      const found = findLfsPointers([{ pack, idx }]);
      expect(new Map(found.map((object) => [object.oid, object.size]))).toEqual(expected);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('VerifyingStream: content that does not match its oid is never stored', () => {
  const content = randomBytes(100_000);
  const object = { oid: sha256(content), size: content.length };
  const chunks = (bytes: Buffer): Readable => Readable.from([bytes.subarray(0, 40_000), bytes.subarray(40_000, 80_000), bytes.subarray(80_000)]);
  const store = async (bytes: Buffer): Promise<MemoryObjectStore> => {
    const memory = new MemoryObjectStore();
    const verifier = new VerifyingStream(object);
    await Promise.all([pipeline(chunks(bytes), verifier), memory.putStream('k', verifier)]);
    return memory;
  };

  it('stores the exact content', async () => {
    expect((await store(content)).objects.get('k')?.equals(content)).toBe(true);
  });

  it.each([
    ['a flipped byte', Buffer.concat([content.subarray(0, 500), Buffer.from([content[500]! ^ 1]), content.subarray(501)])],
    ['a missing byte', content.subarray(1)],
    ['an extra byte', Buffer.concat([content, Buffer.from([0])])],
  ])('refuses %s with LfsIntegrityError', async (_label, bytes) => {
    const memory = new MemoryObjectStore();
    const verifier = new VerifyingStream(object);
    const stored = memory.putStream('k', verifier);
    await expect(pipeline(chunks(bytes), verifier)).rejects.toThrow(LfsIntegrityError);
    await expect(stored).rejects.toThrow(LfsIntegrityError);
    expect(memory.objects.has('k')).toBe(false);
  });
});

describe('the regional LFS API refuses bad input clearly', () => {
  const raw = (path: string, body = '{}') => ({ method: 'POST', rawPath: path, rawQueryString: '', headers: {}, bodyBytes: body.length, body: Buffer.from(body) });

  it('parses LFS paths and refuses traversal and oversized bodies', () => {
    expect(parseLfsRequest(raw('/g/p.git/info/lfs/objects/batch'))).toEqual(expect.objectContaining({ repository: 'g/p', subpath: 'objects/batch' }));
    expect(() => parseLfsRequest(raw('/g/p.git/info/lfs/../../x.git/info/refs'))).toThrow(ValidationError);
    expect(() => parseLfsRequest(raw('/../p.git/info/lfs/locks'))).toThrow(ValidationError);
    expect(() => parseLfsRequest(raw('/g/p.git/info/lfs/locks', 'x'.repeat(1024 * 1024 + 1)))).toThrow(PayloadTooLargeError);
  });

  const repository = parseRepositoryPath('g/p');
  const held = randomBytes(10);
  const endpoint = (primaryFetch: LfsApi['relay']) => {
    const memory = new MemoryObjectStore();
    memory.objects.set(lfsObjectKey(repository, sha256(held)), held);
    const primary = new LfsApi({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000, userAgent: 't' });
    primary.relay = primaryFetch;
    primary.withAuthorization = () => primary;
    return new RegionalLfsEndpoint({
      registry: { get: () => Promise.resolve({ repository, syncedSequence: 1, status: 'synced', anonymousRead: true, accessCheckedAt: new Date().toISOString() } as unknown as RepositoryState) },
      store: memory,
      downloadUrl: (key) => Promise.resolve(`https://bucket.example/${key}?signed`),
      primary,
      access: { check: () => Promise.resolve('allowed' as const) },
      now: () => new Date(),
      settings: { region: 'eu-west-1', mode: 'redirect', anonymousTrustMs: 60_000 },
    });
  };
  const request = (body: string) => parseLfsRequest(raw(`/${repository}.git/info/lfs/objects/batch`, body));

  it('answers 422 for a body that is not a batch request', async () => {
    const unreachable = () => Promise.reject(new PrimaryUnavailableError('down'));
    expect((await endpoint(unreachable).handle(request('not json'))).statusCode).toBe(422);
    expect((await endpoint(unreachable).handle(request(JSON.stringify({ operation: 'delete', objects: [] })))).statusCode).toBe(422);
    const many = Array.from({ length: 1001 }, () => ({ oid: sha256(held), size: 10 }));
    expect((await endpoint(unreachable).handle(request(JSON.stringify({ operation: 'download', objects: many })))).statusCode).toBe(422);
  });

  it('serves what it holds with a signed URL and no header; a bad oid or an object it lacks (primary down) gets a per-object error', async () => {
    const missing = sha256(Buffer.from('missing'));
    const response = await endpoint(() => Promise.reject(new PrimaryUnavailableError('down'))).handle(
      request(JSON.stringify({ operation: 'download', objects: [{ oid: sha256(held), size: 10 }, { oid: 'ABC', size: 1 }, { oid: missing, size: 7 }] })),
    );
    expect(response.statusCode).toBe(200);
    expect(typeof response.body).toBe('string');
    const answer = JSON.parse(response.body as string) as { objects: { oid: string; actions?: { download: { href: string; header?: unknown } }; error?: { code: number } }[] };
    expect(answer.objects[0]).toEqual({ oid: sha256(held), size: 10, authenticated: true, actions: { download: { href: expect.stringContaining('?signed'), expires_in: 900 } } });
    expect(answer.objects[1]?.error?.code).toBe(422);
    expect(answer.objects[2]?.error?.code).toBe(404);
  });
});
