import { GeoError } from './GeoError.ts';

/** A payload that names a Git host other than the configured primary (no SSRF). */
export class UntrustedHostError extends GeoError {
  readonly code = 'ERR_UNTRUSTED_HOST';
  override readonly status = 422;
  override readonly retryable = false;
}
