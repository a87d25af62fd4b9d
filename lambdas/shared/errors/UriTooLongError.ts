import { GeoError } from './GeoError.ts';

/** A request URL (path and query) over the endpoint's limit. */
export class UriTooLongError extends GeoError {
  readonly code = 'ERR_URI_TOO_LONG';
  override readonly status = 414;
  override readonly retryable = false;
}
