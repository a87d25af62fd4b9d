import { GeoError } from './GeoError.ts';

/** A webhook whose host or event type git-geo does not handle. */
export class UnsupportedEventError extends GeoError {
  readonly code = 'ERR_UNSUPPORTED_EVENT';
  override readonly status = 400;
  override readonly retryable = false;
}
