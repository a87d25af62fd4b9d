import { RetryLaterError } from './RetryLaterError.ts';

/** More requests than a stated rate allows: the caller comes back after `retryAfterSeconds` (sent as Retry-After); nothing was recorded. */
export class RateLimitedError extends RetryLaterError {
  readonly code = 'ERR_RATE_LIMITED';
  override readonly status = 429;
}
