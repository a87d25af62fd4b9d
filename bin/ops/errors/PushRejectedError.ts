import { GeoError } from '../../../lambdas/shared/errors/GeoError.ts';

/** The new host refused a push, whole (HTTP status, unpack error) or for some refs (`ng`), as `data` lists. */
export class PushRejectedError extends GeoError {
  readonly code = 'ERR_PUSH_REJECTED';
}
