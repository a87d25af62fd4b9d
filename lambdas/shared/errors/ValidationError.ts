import { GeoError } from './GeoError.ts';

/** Input that is malformed or out of bounds; nothing was recorded. */
export class ValidationError extends GeoError {
  readonly code = 'ERR_VALIDATION';
  override readonly status = 400;
  override readonly retryable = false;
}
