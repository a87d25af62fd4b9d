import { GeoError } from './GeoError.ts';

/** LFS content that does not hash to its oid, or has another size: never stored; the transfer is retried. */
export class LfsIntegrityError extends GeoError {
  readonly code = 'ERR_LFS_INTEGRITY';
  override readonly status = 502;
  override readonly retryable = true;
}
