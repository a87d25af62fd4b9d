import { GeoError } from '../../../lambdas/shared/errors/GeoError.ts';

/** An operator command found nothing to act on: no running `git-geo local`, no deployed stack. */
export class NoTargetError extends GeoError {
  readonly code = 'ERR_NO_TARGET';
}
