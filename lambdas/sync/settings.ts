import type { z } from 'zod';
import { GeoConfigFields, SelectiveSyncRuleSchema } from '../../cdk/GeoConfig.ts';

/** What sync reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const SyncSettings = GeoConfigFields.pick({
  primaryRegion: true,
  primaryUrls: true,
  primaryCredentialsSecretName: true,
  promotionCredentialsSecretName: true,
  refNamespaces: true,
  primaryTimeoutSeconds: true,
  syncTimeoutSeconds: true,
  syncRetryBaseSeconds: true,
  minSyncIntervalSeconds: true,
  deletedRepositories: true,
  primaryOverrideCacheSeconds: true,
}).extend({
  /** This region's selective-sync rule; events of repositories it excludes are dropped (the filter policy may lag a rule change). */
  selectiveSyncRule: SelectiveSyncRuleSchema.default({ include: [], exclude: [] }),
});
export type SyncSettings = z.infer<typeof SyncSettings>;
