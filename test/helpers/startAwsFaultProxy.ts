import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AwsFaultProxy {
  readonly endpoint: string;
  /** While set, SNS Publish calls fail with a 500 InternalFailure, as during an SNS outage. */
  failPublish: boolean;
  /** SNS Publish calls refused so far. */
  refused: number;
  stop(): Promise<void>;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * A loopback HTTP proxy in front of the AWS endpoint (moto) that passes every call through
 * unchanged, except that it can make SNS Publish fail: a real outage seen from the SDK, with its
 * retries, not a mock.
 */
export async function startAwsFaultProxy(target: string): Promise<AwsFaultProxy> {
  const upstream = new URL(target);
  const proxy: AwsFaultProxy = { endpoint: '', failPublish: false, refused: 0, stop: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const payload = await body(req);
      if (proxy.failPublish && /(^|&)Action=Publish(&|$)/.test(payload.toString('latin1'))) {
        proxy.refused++;
        res
          .writeHead(500, { 'content-type': 'text/xml' })
          .end('<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>injected SNS outage</Message></Error><RequestId>fault</RequestId></ErrorResponse>');
        return;
      }
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.once('error', () => res.headersSent || res.writeHead(502).end());
      forward.end(payload);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return proxy;
}
