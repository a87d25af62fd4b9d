import type { z } from 'zod';
import { GeoConfigFields } from '../../cdk/GeoConfig.ts';

/** What notify reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const NotifySettings = GeoConfigFields.pick({
  primaryUrls: true,
  webhookSecretName: true,
  maxWebhookBytes: true,
  primaryOverrideCacheSeconds: true,
  webhookReplayWindowSeconds: true,
  maxEventsPerRepositoryPerSecond: true,
});
export type NotifySettings = z.infer<typeof NotifySettings>;
