import { GeoError } from '../shared/errors/index.ts';

/** A sync attempt that failed; says whether to retry and when. The cause is the real error. */
export class SyncFailedError extends GeoError {
  readonly code = 'ERR_SYNC_FAILED';
  override readonly retryable: boolean;

  constructor(
    readonly repository: string,
    readonly attempt: number,
    readonly retryInSeconds: number | undefined,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`sync of ${repository} failed on attempt ${attempt}: ${reason}`, {
      cause,
      data: { repository, attempt, retryInSeconds, causeCode: cause instanceof GeoError ? cause.code : 'ERR_INTERNAL' },
    });
    this.retryable = retryInSeconds !== undefined;
  }
}
