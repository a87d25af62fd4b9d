import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import * as z from 'zod';
import { AccessDeniedError, PrimaryUnavailableError, ProtocolError, RepositoryNotFoundError } from '../errors/index.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import type { LfsObjectId } from './LfsPointer.ts';

export const LFS_MEDIA_TYPE = 'application/vnd.git-lfs+json';

const ActionSchema = z.object({
  href: z.url(),
  header: z.record(z.string(), z.string()).optional(),
  expires_in: z.number().optional(),
  expires_at: z.string().optional(),
});
export type LfsAction = z.infer<typeof ActionSchema>;

const BatchObjectSchema = z.object({
  oid: z.string(),
  size: z.number(),
  authenticated: z.boolean().optional(),
  actions: z.object({ download: ActionSchema.optional(), upload: ActionSchema.optional(), verify: ActionSchema.optional() }).optional(),
  error: z.object({ code: z.number(), message: z.string().optional() }).optional(),
});
export type LfsBatchObject = z.infer<typeof BatchObjectSchema>;

export const BatchResponseSchema = z.object({
  transfer: z.string().optional(),
  objects: z.array(BatchObjectSchema),
  hash_algo: z.string().optional(),
});
export type LfsBatchResponse = z.infer<typeof BatchResponseSchema>;

export interface LfsApiOptions {
  /** The Git host: its LFS API is at `<baseUrl>/<path>.git/info/lfs`. */
  readonly baseUrl: string;
  /** Sent to the LFS API, and to hrefs on the same origin only. Never logged. */
  readonly authorization?: string;
  /** Wait for response headers, and then at most this long between body chunks. */
  readonly timeoutMs: number;
  readonly userAgent: string;
}

/** An answer relayed as it came: status, the headers a Git LFS client needs, and the body. */
export interface RelayedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/** Response headers a relay passes on: what git-lfs reads. Never set-cookie or hop-by-hop ones. */
const RELAYED_HEADERS = ['content-type', 'lfs-authenticate', 'www-authenticate', 'retry-after'];

/**
 * A Git host's LFS API (the batch API and basic transfers), as the sync, verification and
 * regional endpoints use the primary's. Only `<baseUrl>/<path>.git/info/lfs/…` and the hrefs
 * its batch answers name are contacted; our credentials go only to the primary's own origin.
 */
export class LfsApi {
  readonly baseUrl: string;

  constructor(private readonly options: LfsApiOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  /** The same host, asked with other credentials (undefined: anonymously). */
  withAuthorization(authorization: string | undefined): LfsApi {
    return new LfsApi({ ...this.options, authorization });
  }

  lfsUrl(repository: RepositoryPath): string {
    return `${this.baseUrl}/${repository}.git/info/lfs`;
  }

  /** Asks where to download (or upload) objects. A refusal of the whole request throws. */
  async batch(repository: RepositoryPath, operation: 'download' | 'upload', objects: readonly LfsObjectId[]): Promise<LfsBatchResponse> {
    const url = `${this.lfsUrl(repository)}/objects/batch`;
    const response = await this.request(url, {
      method: 'POST',
      headers: { accept: LFS_MEDIA_TYPE, 'content-type': LFS_MEDIA_TYPE, ...this.credentials() },
      body: JSON.stringify({ operation, transfers: ['basic'], objects: objects.map(({ oid, size }) => ({ oid, size })), hash_algo: 'sha256' }),
    });
    const text = await response.text();
    if (!response.ok) throw statusError(repository, response.status, text);
    let parsed: ReturnType<typeof BatchResponseSchema.safeParse>;
    try {
      parsed = BatchResponseSchema.safeParse(JSON.parse(text));
    } catch (cause) {
      throw new ProtocolError('the LFS batch answer is not JSON', { cause, data: { repository } });
    }
    if (!parsed.success) throw new ProtocolError('the LFS batch answer is malformed', { data: { repository, issues: parsed.error.issues.slice(0, 3).map((issue) => issue.message) } });
    return parsed.data;
  }

  /**
   * Opens a download action's href: its own headers, plus our credentials when it is on the
   * primary's origin (as git-lfs itself sends them). The body streams; a stall longer than
   * the timeout between chunks errors it.
   */
  async open(action: LfsAction): Promise<Readable> {
    const sameOrigin = new URL(action.href).origin === new URL(this.baseUrl).origin;
    const headers = { ...(sameOrigin ? this.credentials() : {}), ...action.header };
    const controller = new AbortController();
    let timer = setTimeout(() => controller.abort(), this.options.timeoutMs);
    const response = await this.request(action.href, { method: 'GET', headers, signal: controller.signal }).catch((error: unknown) => {
      clearTimeout(timer);
      throw error;
    });
    if (!response.ok || response.body === null) {
      clearTimeout(timer);
      await response.body?.cancel();
      throw new PrimaryUnavailableError(`the LFS download answered ${response.status}`, { data: { status: response.status } });
    }
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    const rearm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => body.destroy(new PrimaryUnavailableError(`the LFS download stalled for ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    };
    rearm();
    body.on('data', rearm);
    body.once('close', () => clearTimeout(timer));
    return body;
  }

  /**
   * Relays one request to the host's LFS API (`path` below `info/lfs/`) with the caller's
   * credentials and returns the answer as it came, for a regional endpoint that proxies
   * uploads and locks.
   */
  async relay(repository: RepositoryPath, path: string, request: { method: string; contentType?: string; accept?: string; body?: Buffer }): Promise<RelayedResponse> {
    const response = await this.request(`${this.lfsUrl(repository)}/${path}`, {
      method: request.method,
      headers: {
        accept: request.accept ?? LFS_MEDIA_TYPE,
        ...(request.contentType === undefined ? {} : { 'content-type': request.contentType }),
        ...this.credentials(),
      },
      ...(request.body === undefined || request.method === 'GET' || request.method === 'HEAD' ? {} : { body: request.body }),
      redirect: 'manual',
    });
    const headers: Record<string, string> = {};
    for (const name of RELAYED_HEADERS) {
      const value = response.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) };
  }

  private credentials(): Record<string, string> {
    return this.options.authorization === undefined ? {} : { authorization: this.options.authorization };
  }

  private async request(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, {
        ...init,
        headers: { 'user-agent': this.options.userAgent, ...(init.headers as Record<string, string>) },
        signal: init.signal ?? AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      const cause = error as { name?: string; cause?: { code?: string } };
      const reason = cause.name === 'TimeoutError' || cause.name === 'AbortError' ? `timed out after ${this.options.timeoutMs} ms` : (cause.cause?.code ?? cause.name ?? 'network error');
      throw new PrimaryUnavailableError(`LFS API unreachable: ${reason}`, { cause: error, data: { origin: new URL(url).origin, reason } });
    }
  }
}

function statusError(repository: RepositoryPath, status: number, text: string): Error {
  const message = (() => {
    try {
      const { message } = JSON.parse(text) as { message?: unknown };
      return typeof message === 'string' ? message.slice(0, 200) : '';
    } catch {
      return '';
    }
  })();
  const data = { repository, status, ...(message === '' ? {} : { message }) };
  if (status === 401 || status === 403) return new AccessDeniedError(`the LFS API refused access (${status})`, { data });
  if (status === 404 || status === 410) return new RepositoryNotFoundError(`the LFS API has no such repository (${status})`, { data });
  if (status >= 500 || status === 429) return new PrimaryUnavailableError(`the LFS API answered ${status}`, { data });
  return new ProtocolError(`the LFS API answered ${status}`, { data });
}
