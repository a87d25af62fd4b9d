import { GeoError } from './GeoError.ts';

/** The caller did not prove who it is (missing or wrong webhook secret or credentials). */
export class AuthenticationError extends GeoError {
  readonly code = 'ERR_UNAUTHENTICATED';
  override readonly status = 401;
  override readonly retryable = false;
}
