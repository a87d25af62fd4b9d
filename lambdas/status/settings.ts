import * as z from 'zod';
import { GeoConfigFields } from '../../cdk/GeoConfig.ts';

/** What the status page reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const StatusSettings = GeoConfigFields.pick({
  /** The sync's lease: a sync `started` longer than this is stuck. */
  syncTimeoutSeconds: true,
  replicationLagSloSeconds: true,
  backupIntervalMinutes: true,
  statusPageRefreshSeconds: true,
}).extend({
  /** Every secondary region in display order, with its stack (the other regions' resources are read from their outputs). */
  regionStacks: z.array(z.object({ region: z.string().min(1), stackName: z.string().min(1) })).min(1),
});
export type StatusSettings = z.infer<typeof StatusSettings>;
