import type { z } from 'zod';
import { PRIMARY_ACCESS_FIELDS } from '../shared/primary/primaryAccessFields.ts';
import { GeoConfigFields } from '../../cdk/GeoConfig.ts';

/** What verify reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const VerifySettings = GeoConfigFields.pick({
  ...PRIMARY_ACCESS_FIELDS,
  /** The sync's lease: a sync `started` longer than this is stuck. */
  syncTimeoutSeconds: true,
  verifyIntervalHours: true,
  maxVerificationRepairs: true,
  verificationBackoffSeconds: true,
});
export type VerifySettings = z.infer<typeof VerifySettings>;
