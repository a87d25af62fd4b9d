import { GeoError } from './GeoError.ts';

/** A request body over the configured limit. */
export class PayloadTooLargeError extends GeoError {
  readonly code = 'ERR_PAYLOAD_TOO_LARGE';
  override readonly status = 413;
  override readonly retryable = false;
}
