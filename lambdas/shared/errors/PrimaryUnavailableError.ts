import { GeoError } from './GeoError.ts';

/** The primary could not be reached, timed out or answered 5xx: retry with backoff. */
export class PrimaryUnavailableError extends GeoError {
  readonly code = 'ERR_PRIMARY_UNAVAILABLE';
  override readonly status = 503;
  override readonly retryable = true;
}
