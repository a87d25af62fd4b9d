import { GeoError } from './GeoError.ts';

/** The primary redirects the repository to another path: it was renamed or transferred. Permanent for this path. */
export class RepositoryMovedError extends GeoError {
  readonly code = 'ERR_REPOSITORY_MOVED';
  override readonly status = 404;
  override readonly retryable = false;
}
