import { GeoError, type GeoErrorOptions } from './GeoError.ts';

/**
 * A refusal the caller should retry after `retryAfterSeconds` (sent as `Retry-After`); nothing
 * was recorded or lost.
 */
export abstract class RetryLaterError extends GeoError {
  override readonly retryable = true;

  constructor(
    message: string,
    readonly retryAfterSeconds: number,
    options: GeoErrorOptions = {},
  ) {
    super(message, { ...options, data: { ...options.data, retryAfterSeconds } });
  }
}
