import { GeoError } from './GeoError.ts';

/** An HTTP method the endpoint does not take for this path. */
export class MethodNotAllowedError extends GeoError {
  readonly code = 'ERR_METHOD';
  override readonly status = 405;
  override readonly retryable = false;
}
