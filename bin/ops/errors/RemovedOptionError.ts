import { GeoError } from '../../../lambdas/shared/errors/GeoError.ts';

/** A command-line option that no longer exists, with what replaced it. */
export class RemovedOptionError extends GeoError {
  readonly code = 'ERR_REMOVED_OPTION';
}
