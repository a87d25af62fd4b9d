import { GeoError } from './GeoError.ts';

/** Another sync holds the repository's lease: retry once it has finished or its lease has run out. */
export class LeaseHeldError extends GeoError {
  readonly code = 'ERR_LEASE_HELD';
  override readonly status = 409;
  override readonly retryable = true;

  constructor(
    message: string,
    readonly retryInSeconds: number,
    data: Readonly<Record<string, unknown>> = {},
  ) {
    super(message, { data: { ...data, retryInSeconds } });
  }
}
