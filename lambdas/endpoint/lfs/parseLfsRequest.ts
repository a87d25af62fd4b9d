import { PayloadTooLargeError, ValidationError } from '../../shared/errors/index.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../shared/repositoryPath.ts';
import { REQUEST_LIMITS, type RawHttpRequest } from '../parseGitRequest.ts';

/** A request to a repository's Git LFS API: `<path>.git/info/lfs/<subpath>`. */
export interface LfsRequest {
  readonly method: string;
  readonly repository: RepositoryPath;
  /** What follows `info/lfs/`: `objects/batch`, `locks`, `locks/verify`… */
  readonly subpath: string;
  /** The caller's `Authorization` header. Never logged, never stored. */
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly accept: string | undefined;
  readonly body: Buffer;
}

/** Largest LFS API request body: a batch of git-lfs's 100 objects is ~10 KB; locks are smaller. */
export const MAX_LFS_REQUEST_BYTES = 1024 * 1024;

const LFS_PATH = /^\/+(.+?)\.git\/info\/lfs\/([A-Za-z0-9/_.-]{1,200})$/;

/** True when a path names a repository's LFS API (the endpoint routes it to RegionalLfsEndpoint). */
export function isLfsPath(rawPath: string): boolean {
  return /^\/+.+?\.git\/info\/lfs(?:\/|$)/.test(rawPath);
}

export function parseLfsRequest(raw: RawHttpRequest): LfsRequest {
  if (raw.rawPath.length + raw.rawQueryString.length > REQUEST_LIMITS.maxUrlLength) throw new ValidationError(`request URL longer than ${REQUEST_LIMITS.maxUrlLength} characters`);
  const match = LFS_PATH.exec(raw.rawPath);
  if (match === null || match[2]!.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new ValidationError('not a Git LFS API path: expected <repository>.git/info/lfs/objects/batch or …/locks', { data: { path: raw.rawPath.slice(0, 300) } });
  }
  const body = raw.body ?? Buffer.alloc(0);
  if (body.length > MAX_LFS_REQUEST_BYTES) throw new PayloadTooLargeError(`an LFS API request of ${body.length} bytes; at most ${MAX_LFS_REQUEST_BYTES}`);
  const authorization = raw.headers.authorization ?? raw.headers.Authorization;
  if (authorization !== undefined && authorization.length > REQUEST_LIMITS.maxAuthorizationLength) {
    throw new ValidationError(`Authorization header longer than ${REQUEST_LIMITS.maxAuthorizationLength} characters`);
  }
  return {
    method: raw.method.toUpperCase(),
    repository: parseRepositoryPath(match[1]),
    subpath: match[2]!,
    authorization: authorization === undefined || authorization.trim() === '' ? undefined : authorization,
    contentType: raw.headers['content-type'] ?? raw.headers['Content-Type'],
    accept: raw.headers.accept ?? raw.headers.Accept,
    body,
  };
}
