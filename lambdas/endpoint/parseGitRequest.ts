import { gunzipSync } from 'node:zlib';
import {
  MethodNotAllowedError,
  PayloadTooLargeError,
  UriTooLongError,
  ValidationError,
} from '../shared/errors/index.ts';
import { parseRepositoryPath, type RepositoryPath } from '../shared/repositoryPath.ts';

/**
 * What a Git client asks a regional endpoint for, by the file or service it names:
 * - `refs`: `info/refs` for reading (dumb, or smart upload-pack discovery);
 * - `write`: `info/refs?service=git-receive-pack` or the receive-pack POST;
 * - `smart-read`: the upload-pack POST (only a client that was told the endpoint is smart sends it);
 * - `file`: a file of the bare repository that a dumb client reads (HEAD, the pack list, packs, indexes);
 * - `absent`: files a mirror never holds (loose objects, alternates), which dumb clients probe for;
 * - `bundle`: `<repo>.git/bundle`, the URL given to `git clone --bundle-uri` (a bundle list).
 */
export type GitAction = 'refs' | 'write' | 'smart-read' | 'file' | 'absent' | 'bundle';

export type GitService = 'git-upload-pack' | 'git-receive-pack';

export interface GitRequest {
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly repository: RepositoryPath;
  /** The path below the repository, such as `info/refs` or `objects/pack/pack-….pack`. */
  readonly file: string;
  readonly action: GitAction;
  readonly service: GitService | undefined;
  /** The raw query string, kept as sent for redirects. */
  readonly query: string;
  /** The caller's `Authorization` header. Never logged, never stored. */
  readonly authorization: string | undefined;
  /** 2 or 1 when the client asks for that version of Git's protocol (`Git-Protocol: version=2`); undefined for v0. */
  readonly protocolVersion: 2 | 1 | undefined;
  /** The `Git-Protocol` header as sent, passed on when a request is answered by the primary. */
  readonly gitProtocol?: string;
  /** An upload-pack POST's request, decompressed. */
  readonly body?: Buffer;
}

export interface RawHttpRequest {
  readonly method: string;
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly bodyBytes: number;
  /** The body as sent (after the Function URL's base64), for the upload-pack POST. */
  readonly body?: Buffer;
}

export const REQUEST_LIMITS = {
  /** Path and query together. Repository paths are at most 255 characters. */
  maxUrlLength: 2048,
  /** Reads carry no body; a few bytes of slack for odd clients. */
  maxReadBodyBytes: 1024,
  maxAuthorizationLength: 8192,
  /** An upload-pack request: wants and haves, 50 bytes each, for even the largest repositories. */
  maxUploadPackRequestBytes: 16 * 1024 * 1024,
} as const;

const FILES: readonly [RegExp, GitAction][] = [
  [/^info\/refs$/, 'refs'],
  [/^HEAD$/, 'file'],
  [/^objects\/info\/packs$/, 'file'],
  [/^objects\/pack\/pack-[0-9a-f]{40}(?:[0-9a-f]{24})?\.(?:pack|idx)$/, 'file'],
  [/^objects\/[0-9a-f]{2}\/[0-9a-f]{38}(?:[0-9a-f]{24})?$/, 'absent'],
  [/^objects\/info\/(?:http-)?alternates$/, 'absent'],
  [/^git-upload-pack$/, 'smart-read'],
  [/^git-receive-pack$/, 'write'],
  [/^bundle$/, 'bundle'],
];

/** The known file a path ends in, and the repository path before it. */
function splitPath(rawPath: string): { repository: string; file: string; action: GitAction } {
  const path = rawPath.replace(/^\/+/, '');
  for (const [pattern, action] of FILES) {
    // A file name is one or more whole segments at the end of the path.
    const segments = path.split('/');
    for (let start = 1; start < segments.length; start++) {
      const file = segments.slice(start).join('/');
      if (pattern.test(file)) return { repository: segments.slice(0, start).join('/'), file, action };
    }
  }
  throw new ValidationError('not a Git path: expected <repository>.git/info/refs, HEAD, objects/…, bundle or a service', {
    data: { path: rawPath.slice(0, 300) },
  });
}

/**
 * Validates and classifies one request to a regional endpoint. Anything hostile or malformed
 * is refused here with a 4xx that says what was wrong; nothing reaches storage or the primary.
 */
export function parseGitRequest(raw: RawHttpRequest): GitRequest {
  if (raw.rawPath.length + raw.rawQueryString.length > REQUEST_LIMITS.maxUrlLength) {
    throw new UriTooLongError(`request URL longer than ${REQUEST_LIMITS.maxUrlLength} characters`);
  }
  const { repository: rawRepository, file, action: fileAction } = splitPath(raw.rawPath);
  // Percent-escapes are refused, not decoded: a repository path never needs one.
  const repository = parseRepositoryPath(rawRepository);

  const params = new URLSearchParams(raw.rawQueryString);
  const services = params.getAll('service');
  if (services.length > 1) throw new ValidationError('more than one service parameter');
  const requested = services[0];
  if (requested !== undefined && requested !== 'git-upload-pack' && requested !== 'git-receive-pack') {
    throw new ValidationError(`unsupported service ${JSON.stringify(requested.slice(0, 50))}: only git-upload-pack and git-receive-pack`);
  }

  let action = fileAction;
  let service: GitService | undefined;
  if (fileAction === 'refs') {
    service = requested;
    if (service === 'git-receive-pack') action = 'write';
  } else if (fileAction === 'smart-read') {
    service = 'git-upload-pack';
  } else if (fileAction === 'write') {
    service = 'git-receive-pack';
  }

  const method = raw.method.toUpperCase();
  const posts = action === 'smart-read' || (action === 'write' && file !== 'info/refs');
  if (posts ? method !== 'POST' : method !== 'GET' && method !== 'HEAD') {
    throw new MethodNotAllowedError(`${method} is not allowed on ${file}: use ${posts ? 'POST' : 'GET'}`, {
      data: { allow: posts ? 'POST' : 'GET, HEAD' },
    });
  }
  if (!posts && raw.bodyBytes > REQUEST_LIMITS.maxReadBodyBytes) {
    throw new PayloadTooLargeError(`a ${method} request carries no body; this one has ${raw.bodyBytes} bytes`);
  }
  const authorization = raw.headers.authorization ?? raw.headers.Authorization;
  if (authorization !== undefined && authorization.length > REQUEST_LIMITS.maxAuthorizationLength) {
    throw new ValidationError(`Authorization header longer than ${REQUEST_LIMITS.maxAuthorizationLength} characters`);
  }
  const protocol = raw.headers['git-protocol'] ?? raw.headers['Git-Protocol'];
  return {
    method: method as GitRequest['method'],
    repository,
    file,
    action,
    service,
    query: raw.rawQueryString,
    authorization: authorization === undefined || authorization.trim() === '' ? undefined : authorization,
    protocolVersion: protocol?.split(':').includes('version=2') ? 2 : protocol?.split(':').includes('version=1') ? 1 : undefined,
    ...(protocol === undefined || protocol.length > 256 ? {} : { gitProtocol: protocol }),
    ...(action === 'smart-read' ? { body: uploadPackBody(raw) } : {}),
  };
}

/** The upload-pack request, gunzipped when git compressed it, within the size limit. */
function uploadPackBody(raw: RawHttpRequest): Buffer {
  const limit = REQUEST_LIMITS.maxUploadPackRequestBytes;
  const body = raw.body ?? Buffer.alloc(0);
  if (body.length > limit) throw new PayloadTooLargeError(`an upload-pack request of ${body.length} bytes; at most ${limit}`);
  const encoding = (raw.headers['content-encoding'] ?? raw.headers['Content-Encoding'] ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') return body;
  if (encoding !== 'gzip') throw new ValidationError(`unsupported Content-Encoding ${JSON.stringify(encoding.slice(0, 40))}: gzip or none`);
  try {
    return gunzipSync(body, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new PayloadTooLargeError(`an upload-pack request inflates past ${limit} bytes`, { cause: error });
    throw new ValidationError('the upload-pack request is not valid gzip', { cause: error });
  }
}
