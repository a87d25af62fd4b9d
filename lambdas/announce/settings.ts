import type { z } from 'zod';
import { GeoConfigFields, SelectiveSyncRuleSchema } from '../../cdk/GeoConfig.ts';

/** What announce reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const AnnounceSettings = GeoConfigFields.pick({
  /** The control plane trusted until a failover names another. */
  primaryRegion: true,
}).extend({
  /** This region's selective-sync rule: announcements of repositories it excludes are not recorded. */
  selectiveSyncRule: SelectiveSyncRuleSchema.prefault({}),
});
export type AnnounceSettings = z.infer<typeof AnnounceSettings>;
