import { RetryLaterError } from './RetryLaterError.ts';

/**
 * git-geo is too busy to take this request now (throttled, or contended past its retries); nothing
 * was lost. Answered as 503 with `Retry-After: retryAfterSeconds`, at once rather than after a timeout.
 */
export class BusyError extends RetryLaterError {
  readonly code = 'ERR_BUSY';
  override readonly status = 503;
}
