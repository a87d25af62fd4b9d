import { GeoError } from './GeoError.ts';

/** Missing or invalid configuration; the function refuses to run rather than guess. */
export class ConfigurationError extends GeoError {
  readonly code = 'ERR_CONFIGURATION';
  override readonly status = 500;
  override readonly retryable = false;
}
