import { GeoError } from './GeoError.ts';

/** The primary says the repository does not exist: permanent, do not loop. */
export class RepositoryNotFoundError extends GeoError {
  readonly code = 'ERR_REPOSITORY_NOT_FOUND';
  override readonly status = 404;
  override readonly retryable = false;
}
