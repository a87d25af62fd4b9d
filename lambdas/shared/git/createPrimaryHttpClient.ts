import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import {
  AccessDeniedError,
  PrimaryUnavailableError,
  ProtocolError,
  RepositoryNotFoundError,
  UntrustedHostError,
} from '../errors/index.ts';

export interface PrimaryRequestRecord {
  readonly method: string;
  readonly url: string;
  readonly status: number;
}

export interface PrimaryHttpOptions {
  /** Every URL requested must start with one of these; anything else is refused (no SSRF). */
  readonly allowedBaseUrls: readonly string[];
  /** The `Authorization` header for the primary. Never logged, never put in an error. */
  readonly authorization?: string;
  /** How long to wait for response headers, and then between body chunks. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
  /** Rewrites the body of an upload-pack POST before it is sent. */
  readonly rewriteUploadPack?: (body: Buffer) => Buffer;
  readonly onResponse?: (record: PrimaryRequestRecord) => void;
}

const MAX_REDIRECTS = 5;
const DEFAULT_TIMEOUT_MS = 30_000;

async function collect(body: GitHttpRequest['body'] | Iterable<Uint8Array> | undefined): Promise<Buffer | undefined> {
  if (body === undefined) return undefined;
  const chunks: Uint8Array[] = [];
  for await (const chunk of body as AsyncIterable<Uint8Array>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function redactUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}

/** Turns a fetch failure (refused, reset, DNS, abort) into a retryable error with no secrets in it. */
function unreachable(url: string, error: unknown, timeoutMs: number): PrimaryUnavailableError {
  const cause = error as { name?: string; cause?: { code?: string }; code?: string };
  const timedOut = cause.name === 'AbortError' || cause.name === 'TimeoutError';
  const reason = timedOut ? `timed out after ${timeoutMs} ms` : (cause.cause?.code ?? cause.code ?? cause.name ?? 'network error');
  return new PrimaryUnavailableError(`primary unreachable: ${reason}`, {
    cause: error,
    data: { url: redactUrl(url), reason },
  });
}

function statusError(url: string, status: number): Error {
  const data = { url: redactUrl(url), status };
  if (status === 401 || status === 403) return new AccessDeniedError(`primary refused access (${status})`, { data });
  if (status === 404 || status === 410) return new RepositoryNotFoundError(`primary has no such repository (${status})`, { data });
  if (status === 429 || status >= 500) return new PrimaryUnavailableError(`primary answered ${status}`, { data });
  return new ProtocolError(`primary answered ${status}`, { data });
}

/** Yields the body chunk by chunk, failing if the primary goes quiet for longer than the timeout. */
async function* withIdleTimeout(
  body: AsyncIterable<Uint8Array>,
  controller: AbortController,
  timeoutMs: number,
  url: string,
): AsyncIterableIterator<Uint8Array> {
  let timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    for await (const chunk of body) {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(), timeoutMs);
      yield chunk;
    }
  } catch (error) {
    throw unreachable(url, error, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The HTTP plugin isomorphic-git uses to talk to the primary. It enforces the allowed
 * base URLs (redirects included), adds credentials, classifies failures into typed
 * errors (transient vs permanent), and applies timeouts to headers and to a stalled body.
 */
export function createPrimaryHttpClient(options: PrimaryHttpOptions): HttpClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const allowed = options.allowedBaseUrls.map((base) => base.replace(/\/+$/, '') + '/');
  const assertAllowed = (url: string): void => {
    if (!allowed.some((base) => url.startsWith(base))) {
      throw new UntrustedHostError('refusing to contact a URL outside the configured primary', {
        data: { url: redactUrl(url) },
      });
    }
  };

  const request = async (req: GitHttpRequest): Promise<GitHttpResponse> => {
    const method = req.method ?? 'GET';
    let body = await collect(req.body);
    if (body !== undefined && method === 'POST' && req.url.endsWith('/git-upload-pack') && options.rewriteUploadPack) {
      body = options.rewriteUploadPack(body);
    }
    const headers: Record<string, string> = { ...req.headers };
    delete headers.authorization;
    delete headers.Authorization;
    if (options.userAgent) headers['user-agent'] = options.userAgent;
    if (options.authorization) headers.authorization = options.authorization;

    let url = req.url;
    for (let redirects = 0; ; redirects++) {
      assertAllowed(url);
      const controller = new AbortController();
      const headerTimer = setTimeout(() => controller.abort(), timeoutMs);
      let response: Response;
      try {
        response = await fetch(url, { method, headers, body, redirect: 'manual', signal: controller.signal });
      } catch (error) {
        throw unreachable(url, error, timeoutMs);
      } finally {
        clearTimeout(headerTimer);
      }
      options.onResponse?.({ method, url: redactUrl(url), status: response.status });
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location !== null) {
        await response.body?.cancel();
        if (redirects >= MAX_REDIRECTS) throw new ProtocolError('primary redirected too many times', { data: { url: redactUrl(url) } });
        url = new URL(location, url).toString();
        continue;
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        throw statusError(url, response.status);
      }
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, key) => {
        responseHeaders[key] = value;
      });
      const stream = response.body ?? (async function* () {})();
      return {
        url,
        method,
        statusCode: response.status,
        statusMessage: response.statusText,
        headers: responseHeaders,
        body: withIdleTimeout(stream as AsyncIterable<Uint8Array>, controller, timeoutMs, url),
      };
    }
  };
  return { request };
}
