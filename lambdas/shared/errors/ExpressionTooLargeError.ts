import { GeoError } from './GeoError.ts';

/**
 * A DynamoDB expression git-geo built is past DynamoDB's limits (4 KB of expression text, or more
 * clauses than one request may carry). Raised before sending, so nothing was written: the caller
 * must split the work, never drop part of it.
 */
export class ExpressionTooLargeError extends GeoError {
  readonly code = 'ERR_EXPRESSION_TOO_LARGE';
  override readonly status = 500;
  override readonly retryable = false;
}
