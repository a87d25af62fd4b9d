import * as z from 'zod';
import { GeoConfigFields } from '../../cdk/GeoConfig.ts';

/** What the endpoint reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const EndpointSettings = GeoConfigFields.pick({
  primaryUrls: true,
  refNamespaces: true,
  allowReachableSha1InWant: true,
  writePendingSeconds: true,
  accessCacheSeconds: true,
  anonymousTrustSeconds: true,
  primaryTimeoutSeconds: true,
  primaryOverrideCacheSeconds: true,
  onControlPlaneLoss: true,
  controlPlaneLossSeconds: true,
  stalenessBudgetSeconds: true,
  packUrlSeconds: true,
}).extend({
  /** Pack bytes an instance keeps in /tmp to read objects from: derived from the function's ephemeral storage (limits.ts). */
  packCacheBytes: z.number().int().positive(),
  /** `read-only` for a region in `readOnlyRegions`: it never sends clients to the primary. */
  readMode: z.enum(['redirect', 'read-only']).default('redirect'),
});
export type EndpointSettings = z.infer<typeof EndpointSettings>;
