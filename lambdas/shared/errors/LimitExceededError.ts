import { GeoError } from './GeoError.ts';

/** A request needs more than a stated limit of this deployment allows (a streamed response, a cache); the message names the limit and the way around it. */
export class LimitExceededError extends GeoError {
  readonly code = 'ERR_LIMIT_EXCEEDED';
  override readonly status = 507;
  override readonly retryable = false;
}
