import type { z } from 'zod';
import { GeoConfigFields, SelectiveSyncRuleSchema } from '../../cdk/GeoConfig.ts';

/** What backfill reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const BackfillSettings = GeoConfigFields.pick({
  primaryRegion: true,
  primaryUrls: true,
  backfill: true,
  primaryOverrideCacheSeconds: true,
}).extend({
  selectiveSyncRule: SelectiveSyncRuleSchema.prefault({}),
});
export type BackfillSettings = z.infer<typeof BackfillSettings>;
