import { GeoError } from '../shared/errors/index.ts';

/**
 * Not a failure: the repository was synced moments ago, so this event waits until its minimum
 * sync interval has passed, and then one fetch covers every push that arrived meanwhile.
 */
export class SyncPostponedError extends GeoError {
  readonly code = 'ERR_SYNC_POSTPONED';
  override readonly status = 429;
  override readonly retryable = true;

  constructor(
    readonly repository: string,
    readonly retryInSeconds: number,
  ) {
    super(`sync of ${repository} postponed ${retryInSeconds} s: it was synced less than the minimum interval ago`, { data: { repository, retryInSeconds } });
  }
}
