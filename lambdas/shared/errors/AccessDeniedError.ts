import { GeoError } from './GeoError.ts';

/** The primary refused our read credentials: permanent until an operator fixes them. */
export class AccessDeniedError extends GeoError {
  readonly code = 'ERR_ACCESS_DENIED';
  override readonly status = 403;
  override readonly retryable = false;
}
