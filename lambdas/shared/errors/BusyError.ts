import { GeoError } from './GeoError.ts';

/**
 * git-geo is too busy to take this request now (throttled, or contended past its retries); nothing
 * was lost. Answered as 503 with `Retry-After: retryAfterSeconds`, at once rather than after a timeout.
 */
export class BusyError extends GeoError {
  readonly code = 'ERR_BUSY';
  override readonly status = 503;
  override readonly retryable = true;

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options: { cause?: unknown; data?: Readonly<Record<string, unknown>> } = {},
  ) {
    super(message, { ...options, data: { ...options.data, retryAfterSeconds } });
  }
}
