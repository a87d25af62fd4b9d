import { spawn } from 'node:child_process';
import { timingSafeEqual } from 'node:crypto';
import { access, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { gitlabProjectsPage } from './gitlabProjects.ts';
import { serveLfs } from './lfsServer.ts';

export interface RefUpdate {
  readonly ref: string;
  readonly before: string;
  readonly after: string;
}

export interface GitRequestRecord {
  readonly method: string;
  /** Path below the server root, such as `/group/project.git/info/refs`. */
  readonly path: string;
  readonly service: string | undefined;
  /** 0 while the request is being answered. */
  readonly status: number;
  readonly user: string | undefined;
  readonly userAgent: string | undefined;
  /** When it arrived: the log is in order of arrival. */
  readonly at: number;
  /** Response body bytes sent (what the client downloaded). */
  readonly bytes: number;
  /** Request body bytes received (what the client uploaded: a push's pack). */
  readonly requestBytes: number;
}

/**
 * A fault to inject: answer every request with a status (and a Location, for a redirect), hold it
 * open and never answer, or answer normally after a delay (a slow primary).
 */
export type GitServerFault =
  | { readonly status: number; readonly location?: string }
  | { readonly hang: true }
  | { readonly delayMs: number };

export interface GitServerOptions {
  /** Directory whose bare repositories (`<path>.git`) are served. */
  readonly root: string;
  readonly port?: number;
  /** Users and passwords accepted with Basic auth. Pushes need a user when any are set. */
  readonly users?: Readonly<Record<string, string>>;
  /** Repositories (paths without .git) only an authenticated user may read. */
  readonly isPrivate?: (repository: string) => boolean;
  /** Called with each request's record once it is answered (the record is in `requests` too). */
  readonly onRequest?: (record: GitRequestRecord) => void;
  /** Called after a push lands, with the refs it changed, like a post-receive hook. */
  readonly onPush?: (repository: string, updates: readonly RefUpdate[]) => void | Promise<void>;
  /**
   * Creates a repository on its first push (as GitLab's push-to-create does), and accepts
   * `PUT /<path>.git/HEAD` with `ref: refs/heads/<branch>` to set its default branch (a host's
   * API does that): what `git-geo promote` needs from a fresh host.
   */
  readonly autoCreate?: boolean;
  /** Also answer GitLab's projects listing (`GET /api/v4/projects`) for the repositories served, as backfill reads it. */
  readonly gitlabApi?: boolean;
}

export interface GitServer {
  readonly url: string;
  readonly port: number;
  readonly root: string;
  readonly requests: GitRequestRecord[];
  /**
   * Renamed repositories (old path to new path, without .git): requests for the old path are
   * redirected (301) to the new one, as GitLab and GitHub redirect a renamed project's old path.
   */
  readonly redirects: Map<string, string>;
  setFault(fault: GitServerFault | undefined): void;
  /** Stops accepting connections (clients get ECONNREFUSED) until `start` is called again. */
  pause(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function parsePushCommands(body: Buffer): RefUpdate[] {
  const updates: RefUpdate[] = [];
  let offset = 0;
  while (offset + 4 <= body.length) {
    const length = Number.parseInt(body.toString('ascii', offset, offset + 4), 16);
    if (!Number.isInteger(length) || length === 0) break;
    const line = body.toString('utf8', offset + 4, offset + length).split('\0')[0]!.trim();
    const [before, after, ref] = line.split(' ');
    if (before && after && ref) updates.push({ before, after, ref });
    offset += length;
  }
  return updates;
}

async function initBare(gitDir: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('git', ['init', '--bare', '-q', '-b', 'main', gitDir], { stdio: 'ignore' });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`git init --bare ${gitDir} exited ${code}`))));
  });
}

function checkPassword(expected: string, given: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * A real Git server for tests and the demo: `git http-backend` (smart HTTP, protocol v0-v2)
 * and a Git LFS API (lfsServer.ts) behind a small loopback HTTP server, with Basic auth, private repositories, a request
 * log, fault injection, and a post-receive callback that knows exactly which refs moved.
 */
export async function startGitServer(options: GitServerOptions): Promise<GitServer> {
  const requests: GitRequestRecord[] = [];
  const redirects = new Map<string, string>();
  let fault: GitServerFault | undefined;
  const sockets = new Set<Socket>();

  const authenticate = (req: IncomingMessage): string | undefined | false => {
    const header = req.headers.authorization;
    if (!header?.startsWith('Basic ')) return undefined;
    const [user, ...rest] = Buffer.from(header.slice(6), 'base64').toString('utf8').split(':');
    const password = rest.join(':');
    const expected = user === undefined ? undefined : options.users?.[user];
    return expected !== undefined && checkPassword(expected, password) ? user : false;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    const service = url.searchParams.get('service') ?? (path.endsWith('/git-upload-pack') ? 'git-upload-pack' : path.endsWith('/git-receive-pack') ? 'git-receive-pack' : undefined);
    // Logged on arrival, so a request is in the log before its client can have seen an answer.
    const entry: { -readonly [K in keyof GitRequestRecord]: GitRequestRecord[K] } = {
      method: req.method ?? 'GET',
      path,
      service,
      status: 0,
      user: undefined,
      userAgent: req.headers['user-agent'],
      at: Date.now(),
      bytes: 0,
      requestBytes: 0,
    };
    requests.push(entry);
    let bytes = 0;
    const record = (status: number, user?: string): void => {
      entry.status = status;
      entry.user = user;
      entry.bytes = bytes;
      options.onRequest?.(entry);
    };
    if (fault !== undefined) {
      if ('hang' in fault) return; // never answer: the client's timeout must fire
      if ('delayMs' in fault) {
        const { delayMs } = fault;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      } else {
        record(fault.status);
        res.writeHead(fault.status, { 'content-type': 'text/plain', ...(fault.location ? { location: fault.location } : {}) }).end('injected fault\n');
        return;
      }
    }
    if (options.gitlabApi && path === '/api/v4/projects' && (req.method ?? 'GET') === 'GET') {
      const page = await gitlabProjectsPage(options.root, `http://${req.headers.host ?? '127.0.0.1'}`, url.searchParams, options.isPrivate);
      const text = JSON.stringify(page.body);
      bytes = Buffer.byteLength(text);
      record(200);
      res.writeHead(200, { 'content-type': 'application/json', ...page.headers }).end(text);
      return;
    }
    const repository = /^\/(.+?)\.git(\/|$)/.exec(path)?.[1];
    const movedTo = repository === undefined ? undefined : redirects.get(repository);
    if (movedTo !== undefined) {
      record(301);
      res.writeHead(301, { location: `/${movedTo}.git${path.slice(repository!.length + 5)}${url.search}` }).end();
      return;
    }
    const user = authenticate(req);
    const needsUser = (service === 'git-receive-pack' || req.method === 'PUT') && options.users !== undefined;
    const isPrivate = repository !== undefined && (options.isPrivate?.(repository) ?? false);
    if (user === false || ((isPrivate || needsUser) && user === undefined)) {
      record(401);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' }).end('authentication required\n');
      return;
    }
    const lfsPrefix = `/${repository}.git/info/lfs/`;
    if (repository !== undefined && path.startsWith(lfsPrefix) && !repository.split('/').includes('..')) {
      // Before the body is read: LFS uploads stream to disk.
      const lfsStatus = await serveLfs(req, res, {
        gitDir: join(options.root, `${repository}.git`),
        lfsUrl: `http://${req.headers.host ?? '127.0.0.1'}${lfsPrefix.slice(0, -1)}`,
        subpath: path.slice(lfsPrefix.length),
        user: user || undefined,
        writesNeedUser: options.users !== undefined,
        sent: (count) => void (bytes += count),
      });
      record(lfsStatus, user || undefined);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    entry.requestBytes = body.length;
    if (options.autoCreate && repository !== undefined && !repository.split('/').includes('..')) {
      const gitDir = join(options.root, `${repository}.git`);
      const exists = await access(gitDir).then(() => true, () => false);
      if (!exists && service === 'git-receive-pack') await initBare(gitDir);
      if (req.method === 'PUT' && path === `/${repository}.git/HEAD`) {
        const target = /^ref: (refs\/heads\/[^\s]+)\s*$/.exec(body.toString('utf8'))?.[1];
        if (target === undefined || !exists) {
          record(target === undefined ? 400 : 404, user || undefined);
          res.writeHead(target === undefined ? 400 : 404, { 'content-type': 'text/plain' }).end('expected an existing repository and "ref: refs/heads/<branch>"\n');
          return;
        }
        await writeFile(join(gitDir, 'HEAD'), `ref: ${target}\n`);
        record(204, user || undefined);
        res.writeHead(204).end();
        return;
      }
    }
    const child = spawn('git', ['http-backend'], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        GIT_PROJECT_ROOT: options.root,
        GIT_HTTP_EXPORT_ALL: '1',
        PATH_INFO: path,
        QUERY_STRING: url.search.replace(/^\?/, ''),
        REQUEST_METHOD: req.method ?? 'GET',
        CONTENT_TYPE: req.headers['content-type'] ?? '',
        CONTENT_LENGTH: String(body.length),
        HTTP_CONTENT_ENCODING: req.headers['content-encoding'] ?? '',
        GIT_PROTOCOL: String(req.headers['git-protocol'] ?? ''),
        REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
        ...(user ? { REMOTE_USER: user } : {}),
        // Anonymous pushes are allowed only when no users are configured.
        GIT_CONFIG_COUNT: '1',
        GIT_CONFIG_KEY_0: 'http.receivepack',
        GIT_CONFIG_VALUE_0: 'true',
      },
    });
    // http-backend may exit before reading the body (a 404, say); that is not our error.
    child.stdin.on('error', () => undefined);
    child.stdin.end(body);
    // Stream the CGI answer: parse its headers, then pipe the body (packs can be large).
    const status = await new Promise<number>((resolve, reject) => {
      let pending = Buffer.alloc(0);
      let started = false;
      child.stdout.on('data', (chunk: Buffer) => {
        if (started) {
          bytes += chunk.length;
          res.write(chunk);
          return;
        }
        pending = Buffer.concat([pending, chunk]);
        const split = pending.indexOf('\r\n\r\n');
        if (split < 0) return;
        started = true;
        let code = 200;
        const headers: Record<string, string> = {};
        for (const line of pending.subarray(0, split).toString('latin1').split('\r\n')) {
          const colon = line.indexOf(':');
          if (colon < 0) continue;
          const name = line.slice(0, colon).trim();
          const value = line.slice(colon + 1).trim();
          if (name.toLowerCase() === 'status') code = Number.parseInt(value, 10);
          else headers[name] = value;
        }
        res.writeHead(code, headers);
        bytes += pending.length - split - 4;
        res.write(pending.subarray(split + 4));
        resolve(code);
      });
      child.once('error', reject);
      child.once('close', (exitCode) => {
        if (!started) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          resolve(exitCode === 0 ? 200 : 500);
        }
        res.end();
      });
    });
    await new Promise((resolve) => (child.exitCode === null ? child.once('close', resolve) : resolve(undefined)));
    record(status, user || undefined);
    if (service === 'git-receive-pack' && req.method === 'POST' && status === 200 && repository !== undefined && options.onPush) {
      const plain = req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
      const updates = parsePushCommands(plain);
      if (updates.length > 0) await options.onPush(repository, updates);
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`git server error: ${(error as Error).message}\n`);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    root: options.root,
    requests,
    redirects,
    setFault(next) {
      fault = next;
    },
    pause: close,
    start: () => listen(port),
    stop: close,
  };
}
