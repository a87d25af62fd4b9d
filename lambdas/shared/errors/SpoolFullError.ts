import { GeoError } from './GeoError.ts';

/**
 * A pack did not fit the local disk it is spooled to (Lambda's /tmp: `syncEphemeralStorageMiB`).
 * Retried (space held by another pack may free up), and named clearly when it keeps happening.
 */
export class SpoolFullError extends GeoError {
  readonly code = 'ERR_SPOOL_FULL';
  override readonly status = 507;
  override readonly retryable = true;
}
