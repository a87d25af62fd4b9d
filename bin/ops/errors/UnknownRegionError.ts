import { GeoError } from '../../../lambdas/shared/errors/GeoError.ts';

/** A command named a region the target has no secondary region (or control plane) in. */
export class UnknownRegionError extends GeoError {
  readonly code = 'ERR_UNKNOWN_REGION';
}
