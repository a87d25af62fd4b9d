import type { z } from 'zod';
import { GeoConfigFields } from '../../cdk/GeoConfig.ts';

/** What verify reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const VerifySettings = GeoConfigFields.pick({
  primaryRegion: true,
  primaryUrls: true,
  primaryCredentialsSecretName: true,
  promotionCredentialsSecretName: true,
  refNamespaces: true,
  primaryTimeoutSeconds: true,
  /** The sync's lease: a sync `started` longer than this is stuck. */
  syncTimeoutSeconds: true,
  verifyIntervalHours: true,
  maxVerificationRepairs: true,
  verificationBackoffSeconds: true,
  primaryOverrideCacheSeconds: true,
});
export type VerifySettings = z.infer<typeof VerifySettings>;
