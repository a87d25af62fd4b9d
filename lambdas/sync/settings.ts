import type { z } from 'zod';
import { PRIMARY_ACCESS_FIELDS } from '../shared/primary/primaryAccessFields.ts';
import { GeoConfigFields, SelectiveSyncRuleSchema } from '../../cdk/GeoConfig.ts';

/** What sync reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const SyncSettings = GeoConfigFields.pick({
  ...PRIMARY_ACCESS_FIELDS,
  syncTimeoutSeconds: true,
  syncRetryBaseSeconds: true,
  minSyncIntervalSeconds: true,
  deletedRepositories: true,
  packMaintenance: true,
  bundleMinPackMiB: true,
}).extend({
  /** This region's selective-sync rule; events of repositories it excludes are dropped (the filter policy may lag a rule change). */
  selectiveSyncRule: SelectiveSyncRuleSchema.prefault({}),
});
export type SyncSettings = z.infer<typeof SyncSettings>;
