import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { LFS_MEDIA_TYPE } from '../../lambdas/shared/lfs/LfsApi.ts';
import { OID_PATTERN } from '../../lambdas/shared/lfs/LfsPointer.ts';

export interface LfsRequestContext {
  /** The repository's bare directory; its objects live in `lfs/objects/` as git-lfs lays them out. */
  readonly gitDir: string;
  /** `http://host/<path>.git/info/lfs`: hrefs point back here. */
  readonly lfsUrl: string;
  /** What follows `info/lfs/`. */
  readonly subpath: string;
  /** The authenticated user, if any. */
  readonly user: string | undefined;
  /** True when the server has users: uploads then need one. */
  readonly writesNeedUser: boolean;
  /** Counts response body bytes for the request log. */
  readonly sent: (bytes: number) => void;
}

/** Largest batch request body read (git-lfs sends 100 objects, ~10 KB). */
const MAX_BATCH_BYTES = 1024 * 1024;

function objectPath(gitDir: string, oid: string): string {
  return join(gitDir, 'lfs', 'objects', oid.slice(0, 2), oid.slice(2, 4), oid);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req) {
    bytes += (chunk as Buffer).length;
    if (bytes > MAX_BATCH_BYTES) throw Object.assign(new Error('request too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, body: unknown, sent: (bytes: number) => void, headers: Record<string, string> = {}): number {
  const text = `${JSON.stringify(body)}\n`;
  sent(Buffer.byteLength(text));
  res.writeHead(status, { 'content-type': LFS_MEDIA_TYPE, ...headers }).end(text);
  return status;
}

async function sizeOf(path: string): Promise<number | undefined> {
  return stat(path).then((info) => info.size, () => undefined);
}

/**
 * The Git LFS API of the local git server, enough for the real git-lfs client: the batch API
 * (basic transfer, hrefs on this server, the caller's Authorization passed back in action
 * headers as GitLab does), object GET and PUT (hashed while written: a wrong oid or size is
 * refused and nothing is kept), verify, and a locks API with no locks. Answers the status sent.
 */
export async function serveLfs(req: IncomingMessage, res: ServerResponse, context: LfsRequestContext): Promise<number> {
  const { gitDir, subpath, sent } = context;
  const method = req.method ?? 'GET';
  if (!(await access(gitDir).then(() => true, () => false))) return json(res, 404, { message: 'no such repository' }, sent);
  const actionHeader = req.headers.authorization === undefined ? {} : { header: { Authorization: req.headers.authorization } };

  if (subpath === 'objects/batch' && method === 'POST') {
    let request: { operation?: unknown; objects?: unknown };
    try {
      request = JSON.parse((await readBody(req)).toString('utf8')) as typeof request;
    } catch {
      return json(res, 422, { message: 'the batch request is not JSON' }, sent);
    }
    const operation = request.operation;
    if (operation !== 'download' && operation !== 'upload') return json(res, 422, { message: 'operation must be download or upload' }, sent);
    if (operation === 'upload' && context.writesNeedUser && context.user === undefined) {
      return json(res, 401, { message: 'credentials needed to upload' }, sent, { 'lfs-authenticate': 'Basic realm="git"' });
    }
    if (!Array.isArray(request.objects)) return json(res, 422, { message: 'objects must be a list' }, sent);
    const objects = await Promise.all(
      (request.objects as { oid?: unknown; size?: unknown }[]).map(async ({ oid, size }) => {
        if (typeof oid !== 'string' || !OID_PATTERN.test(oid) || typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
          return { oid: String(oid), size: Number(size), error: { code: 422, message: 'invalid oid or size' } };
        }
        const held = await sizeOf(objectPath(gitDir, oid));
        const href = `${context.lfsUrl}/objects/${oid}`;
        if (operation === 'download') {
          if (held === undefined) return { oid, size, error: { code: 404, message: 'object not found' } };
          return { oid, size: held, authenticated: true, actions: { download: { href, ...actionHeader, expires_in: 3600 } } };
        }
        if (held === size) return { oid, size };
        return { oid, size, authenticated: true, actions: { upload: { href, ...actionHeader, expires_in: 3600 }, verify: { href: `${context.lfsUrl}/objects/verify`, ...actionHeader, expires_in: 3600 } } };
      }),
    );
    return json(res, 200, { transfer: 'basic', objects, hash_algo: 'sha256' }, sent);
  }

  const object = /^objects\/([0-9a-f]{64})$/.exec(subpath)?.[1];
  if (object !== undefined && (method === 'GET' || method === 'HEAD')) {
    const path = objectPath(gitDir, object);
    const size = await sizeOf(path);
    if (size === undefined) return json(res, 404, { message: 'object not found' }, sent);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    if (method === 'HEAD') {
      res.end();
      return 200;
    }
    await pipeline(createReadStream(path), new Transform({ transform: (chunk: Buffer, _encoding, callback) => (sent(chunk.length), callback(null, chunk)) }), res);
    return 200;
  }
  if (object !== undefined && method === 'PUT') {
    const path = objectPath(gitDir, object);
    const incoming = join(gitDir, 'lfs', 'incoming', randomUUID());
    await mkdir(dirname(incoming), { recursive: true });
    const hash = createHash('sha256');
    let bytes = 0;
    await pipeline(req, new Transform({ transform: (chunk: Buffer, _encoding, callback) => (hash.update(chunk), (bytes += chunk.length), callback(null, chunk)) }), createWriteStream(incoming));
    const expectedSize = Number(req.headers['content-length'] ?? bytes);
    if (hash.digest('hex') !== object || bytes !== expectedSize) {
      await rm(incoming, { force: true });
      return json(res, 422, { message: 'content does not match its oid' }, sent);
    }
    await mkdir(dirname(path), { recursive: true });
    await rename(incoming, path);
    res.writeHead(200).end();
    return 200;
  }
  if (subpath === 'objects/verify' && method === 'POST') {
    const body = JSON.parse((await readBody(req)).toString('utf8')) as { oid?: string; size?: number };
    const held = typeof body.oid === 'string' && OID_PATTERN.test(body.oid) ? await sizeOf(objectPath(gitDir, body.oid)) : undefined;
    if (held === undefined || held !== body.size) return json(res, 404, { message: 'object not found or of another size' }, sent);
    return json(res, 200, {}, sent);
  }
  // Locks: this server keeps none. git-lfs asks `locks/verify` before a push.
  if (subpath === 'locks/verify' && method === 'POST') {
    await readBody(req);
    if (context.writesNeedUser && context.user === undefined) return json(res, 401, { message: 'credentials needed' }, sent, { 'lfs-authenticate': 'Basic realm="git"' });
    return json(res, 200, { ours: [], theirs: [] }, sent);
  }
  if (subpath === 'locks' && method === 'GET') return json(res, 200, { locks: [] }, sent);
  if (subpath.startsWith('locks')) {
    await readBody(req);
    return json(res, 501, { message: 'this server does not support file locking' }, sent);
  }
  return json(res, 404, { message: `no LFS API at ${subpath}` }, sent);
}
