import { GeoError } from './GeoError.ts';

/** Someone else changed the same state first; retrying re-reads it. */
export class ConflictError extends GeoError {
  readonly code = 'ERR_CONFLICT';
  override readonly status = 409;
  override readonly retryable = true;
}
