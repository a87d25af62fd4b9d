import { GeoError } from './GeoError.ts';

/** More requests than a stated rate allows: the caller comes back after `retryAfterSeconds` (sent as Retry-After); nothing was recorded. */
export class RateLimitedError extends GeoError {
  readonly code = 'ERR_RATE_LIMITED';
  override readonly status = 429;
  override readonly retryable = true;

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options: { cause?: unknown; data?: Readonly<Record<string, unknown>> } = {},
  ) {
    super(message, { ...options, data: { ...options.data, retryAfterSeconds } });
  }
}
