import { GeoError } from './GeoError.ts';

/** The caller is known but may not do this. */
export class ForbiddenError extends GeoError {
  readonly code = 'ERR_FORBIDDEN';
  override readonly status = 403;
  override readonly retryable = false;
}
