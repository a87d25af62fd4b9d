import { GeoError } from './GeoError.ts';

/** A change is in the event log but could not be published yet: the host should retry; the republisher will too. */
export class PublishFailedError extends GeoError {
  readonly code = 'ERR_PUBLISH_FAILED';
  override readonly status = 503;
  override readonly retryable = true;
}
