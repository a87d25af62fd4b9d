import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where the runtime answers the outage control, on its own HTTP port. */
export const REGIONS_CONTROL_PATH = '/_git-geo/regions';
/** Where the runtime answers the Lambda API: `/_lambda/<token>` followed by Lambda's own paths. */
export const LAMBDA_API_PREFIX = '/_lambda/';

const SIGV4_REGION = /Credential=[^/,\s]+\/\d{8}\/([a-z0-9-]+)\//;

/** The region an AWS request is signed for (SigV4 header or pre-signed query), if any. */
export function signedRegion(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  const fromHeader = typeof header === 'string' ? SIGV4_REGION.exec(header)?.[1] : undefined;
  if (fromHeader !== undefined) return fromHeader;
  const credential = new URL(req.url ?? '/', 'http://local').searchParams.get('X-Amz-Credential');
  return credential === null ? undefined : /^[^/]+\/\d{8}\/([a-z0-9-]+)\//.exec(credential)?.[1];
}

/**
 * Whole-region outages for the local runtime. Every AWS call of the runtime and its functions goes
 * through a loopback proxy in front of the AWS endpoint, and the proxy drops the connection of any
 * call signed for a region that is down, as an unreachable regional endpoint would (the SDK retries,
 * then fails). The runtime's own Function URLs and Lambda API do the same for that region's
 * functions. Taking a region down and bringing it back is an HTTP call on the runtime's port that
 * carries the runtime's token (printed in its ready line); so is every Lambda API call.
 */
export class RegionOutage {
  readonly token = randomBytes(24).toString('hex');
  private readonly down = new Map<string, string>();
  private readonly active = new Set<{ region: string | undefined; req: IncomingMessage; res: ServerResponse }>();
  private server: Server | undefined;
  private proxyEndpoint = '';

  /** The AWS endpoint every client of the runtime uses: the proxy. */
  get endpoint(): string {
    return this.proxyEndpoint;
  }

  /** Starts the proxy in front of `target` (moto, or another AWS endpoint). */
  async start(target: string): Promise<void> {
    const upstream = new URL(target);
    this.server = createServer((req, res) => {
      const region = signedRegion(req);
      if (region !== undefined && this.down.has(region)) {
        req.socket.destroy();
        return;
      }
      const entry = { region, req, res };
      this.active.add(entry);
      res.once('close', () => this.active.delete(entry));
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.once('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
      req.pipe(forward);
    });
    this.server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.proxyEndpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  isDown(region: string): boolean {
    return this.down.has(region);
  }

  /** Every region that is down, with when it went down. */
  regionsDown(): Record<string, string> {
    return Object.fromEntries(this.down);
  }

  /** Takes a region offline now: calls in flight to it are cut, later ones refused. */
  takeDown(region: string): void {
    if (!this.down.has(region)) this.down.set(region, new Date().toISOString());
    for (const entry of this.active) {
      if (entry.region === region) {
        entry.req.socket.destroy();
        this.active.delete(entry);
      }
    }
  }

  bringBack(region: string): void {
    this.down.delete(region);
  }

  /** Whether a request carries the runtime's token: `Authorization: Bearer <token>`. */
  authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    return typeof header === 'string' && this.matches(header.replace(/^Bearer\s+/i, ''));
  }

  private matches(candidate: string): boolean {
    const given = Buffer.from(candidate);
    const expected = Buffer.from(this.token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * The control: `GET /_git-geo/regions` lists the regions down; `POST /_git-geo/regions/<region>/outage`
   * takes one down; `DELETE` the same path brings it back. `regions` are the runtime's regions.
   */
  handleControl(req: IncomingMessage, res: ServerResponse, url: URL, regions: readonly string[]): Promise<void> {
    const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!this.authorized(req)) {
      json(401, { error: 'ERR_UNAUTHENTICATED', message: 'send the runtime token from the ready line: Authorization: Bearer <controlToken>' });
      return Promise.resolve();
    }
    if (url.pathname === REGIONS_CONTROL_PATH && req.method === 'GET') {
      json(200, { regions, down: this.regionsDown() });
      return Promise.resolve();
    }
    const match = /^\/_git-geo\/regions\/([a-z0-9-]+)\/outage$/.exec(url.pathname);
    if (match === null || (req.method !== 'POST' && req.method !== 'DELETE')) {
      json(404, { error: 'ERR_NOT_FOUND', message: `POST or DELETE ${REGIONS_CONTROL_PATH}/<region>/outage, or GET ${REGIONS_CONTROL_PATH}` });
      return Promise.resolve();
    }
    const region = match[1]!;
    if (!regions.includes(region)) {
      json(400, { error: 'ERR_VALIDATION', message: `${region} is not a region of this runtime (${regions.join(', ')})` });
      return Promise.resolve();
    }
    if (req.method === 'POST') this.takeDown(region);
    else this.bringBack(region);
    json(200, { region, down: this.isDown(region), since: this.down.get(region) ?? null });
    return Promise.resolve();
  }

  /**
   * The Lambda API behind the token: `/_lambda/<token>/2015-03-31/...` reaches `handler` with the
   * prefix removed; a wrong or missing token is refused, and a call signed for a region that is
   * down gets its connection dropped.
   */
  lambdaApi(handler: (req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer) => Promise<void>) {
    return async (req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> => {
      const rest = url.pathname.slice(LAMBDA_API_PREFIX.length);
      const slash = rest.indexOf('/');
      if (slash < 0 || !this.matches(rest.slice(0, slash))) {
        res.writeHead(403, { 'content-type': 'application/json', 'x-amzn-errortype': 'AccessDeniedException' }).end(JSON.stringify({ message: 'the Lambda API of git-geo local needs its token: use lambdaEndpoint from the ready line' }));
        return;
      }
      const region = signedRegion(req);
      if (region !== undefined && this.isDown(region)) {
        req.socket.destroy();
        return;
      }
      const inner = new URL(url);
      inner.pathname = rest.slice(slash);
      await handler(req, res, inner, body);
    };
  }
}
