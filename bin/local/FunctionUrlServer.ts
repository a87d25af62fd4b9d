import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalLambda } from './LocalLambda.ts';
import type { LocalFunctionUrl } from './LocalResources.ts';
import { LocalResponseStream, type ResponseStreamOptions } from './LocalResponseStream.ts';

/** Lambda's own limit on a synchronous invocation's request payload. */
const MAX_REQUEST_BYTES = 6 * 1024 * 1024;
/** And on a buffered response; streamed responses (RESPONSE_STREAM) go past it. */
const MAX_BUFFERED_RESPONSE_BYTES = 6 * 1024 * 1024;

interface Mount {
  readonly path: string;
  readonly lambda: LocalLambda;
  readonly invokeMode: LocalFunctionUrl['invokeMode'];
}

function isText(contentType: string | undefined): boolean {
  return contentType === undefined || /^(text\/|application\/(json|x-www-form-urlencoded|xml))/.test(contentType);
}

/**
 * Function URLs on one loopback HTTP server, each mounted at its function's path.
 * Requests become payload-format 2.0 events, and results become responses, as Lambda
 * Function URLs do; the mount path is stripped, as if each function had its own host.
 * A BUFFERED URL answers the function's result (6 MB at most); a RESPONSE_STREAM URL
 * streams what the function writes to its response stream, after the prelude's status and
 * headers, at Lambda's pace and within its 200 MB (see LocalResponseStream).
 */
export class FunctionUrlServer {
  private readonly server: Server;
  private readonly mounts: Mount[] = [];
  private readonly apis: { prefix: string; handler: (req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer) => Promise<void> }[] = [];
  private base = '';

  /**
   * `streaming`: the limits and clock of RESPONSE_STREAM responses; Lambda's own by default
   * (6 MB uncapped, then 2 MB/s, cut at 200 MB).
   */
  constructor(
    private readonly onError: (error: unknown) => void,
    private readonly streaming: Omit<ResponseStreamOptions, 'onCut'> = {},
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  /** Starts listening; answers the base URL (`http://127.0.0.1:PORT`). */
  async listen(port: number, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    this.base = `http://${host}:${address.port}`;
    return this.base;
  }

  mount(path: string, lambda: LocalLambda, invokeMode: LocalFunctionUrl['invokeMode'] = 'BUFFERED'): void {
    this.mounts.push({ path: path.replace(/\/+$/, ''), lambda, invokeMode });
    this.mounts.sort((a, b) => b.path.length - a.path.length);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * Serves an AWS API the runtime emulates itself (the few Lambda calls for event source
   * mappings) under `prefix`, beside the Function URLs.
   */
  api(prefix: string, handler: (req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer) => Promise<void>): void {
    this.apis.push({ prefix, handler });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const api = this.apis.find((candidate) => url.pathname.startsWith(candidate.prefix));
    if (api !== undefined) {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      try {
        await api.handler(req, res, url, Buffer.concat(chunks));
      } catch (error) {
        this.onError(error);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: (error as Error).message }));
      }
      return;
    }
    const mount = this.mounts.find((candidate) => url.pathname === candidate.path || url.pathname.startsWith(`${candidate.path}/`));
    if (mount === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `nothing is mounted at ${url.pathname}` }));
      return;
    }
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_REQUEST_BYTES) {
          res.writeHead(413, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Request must be smaller than 6291456 bytes' }));
          return;
        }
        chunks.push(chunk as Buffer);
      }
      const body = Buffer.concat(chunks);
      const event = this.toEvent(req, url, mount.path, body);
      if (mount.invokeMode === 'RESPONSE_STREAM') {
        await this.stream(res, mount.lambda, event);
        return;
      }
      this.respond(res, await mount.lambda.invoke(event));
    } catch (error) {
      this.onError(error);
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Internal Server Error' }));
    }
  }

  /** RESPONSE_STREAM: the handler writes to the client as it goes; a failure after the headers cuts the connection. */
  private async stream(res: ServerResponse, lambda: LocalLambda, event: APIGatewayProxyEventV2): Promise<void> {
    const stream = new LocalResponseStream(res, {
      ...this.streaming,
      onCut: (bytes) => this.onError(new Error(`a streamed response reached Lambda's limit after ${bytes} bytes and was cut`)),
    });
    try {
      await lambda.invokeStreaming(event, stream);
      if (!stream.writableEnded) stream.end();
    } catch (error) {
      // A client that hung up mid-stream is not the function's failure.
      if (res.destroyed || res.writableFinished) return;
      this.onError(error);
      if (!stream.headersSent && !res.headersSent) {
        res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Internal Server Error' }));
      } else {
        res.destroy();
      }
    }
  }

  private toEvent(req: IncomingMessage, url: URL, mountPath: string, body: Buffer): APIGatewayProxyEventV2 {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && name !== 'cookie') headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const rawPath = url.pathname.slice(mountPath.length) || '/';
    const text = isText(headers['content-type']);
    const now = new Date();
    const query: Record<string, string> = {};
    url.searchParams.forEach((value, key) => {
      query[key] = key in query ? `${query[key]},${value}` : value;
    });
    return {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString: url.search.replace(/^\?/, ''),
      headers,
      ...(Object.keys(query).length > 0 ? { queryStringParameters: query } : {}),
      ...(req.headers.cookie ? { cookies: req.headers.cookie.split(/;\s*/) } : {}),
      requestContext: {
        accountId: 'anonymous',
        apiId: 'local',
        domainName: url.host,
        domainPrefix: 'local',
        http: {
          method: req.method ?? 'GET',
          path: rawPath,
          protocol: `HTTP/${req.httpVersion}`,
          sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
          userAgent: headers['user-agent'] ?? '',
        },
        requestId: randomUUID(),
        routeKey: '$default',
        stage: '$default',
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
      isBase64Encoded: body.length > 0 && !text,
    };
  }

  private respond(res: ServerResponse, result: unknown): void {
    if (result === null || typeof result !== 'object' || !('statusCode' in result)) {
      // Function URLs turn a result without statusCode into a 200 JSON body.
      res.writeHead(200, { 'content-type': 'application/json' }).end(result === undefined ? '' : JSON.stringify(result));
      return;
    }
    const response = result as APIGatewayProxyStructuredResultV2;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(response.headers ?? {})) headers[name] = String(value);
    if (response.cookies?.length) headers['set-cookie'] = response.cookies;
    const body = response.body === undefined ? Buffer.alloc(0) : Buffer.from(response.body, response.isBase64Encoded ? 'base64' : 'utf8');
    if (body.length > MAX_BUFFERED_RESPONSE_BYTES) {
      this.onError(new Error(`buffered response of ${body.length} bytes is over Lambda's ${MAX_BUFFERED_RESPONSE_BYTES}-byte limit; stream it (RESPONSE_STREAM)`));
      res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'Internal Server Error' }));
      return;
    }
    res.writeHead(response.statusCode ?? 200, headers).end(body);
  }
}
