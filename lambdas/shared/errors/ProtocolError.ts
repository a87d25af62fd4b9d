import { GeoError } from './GeoError.ts';

/** The primary answered something that is not valid Git protocol. */
export class ProtocolError extends GeoError {
  readonly code = 'ERR_PROTOCOL';
  override readonly status = 502;
  override readonly retryable = true;
}
