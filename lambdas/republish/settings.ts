import type { z } from 'zod';
import { GeoConfigFields } from '../../cdk/GeoConfig.ts';

/** What republish reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const RepublishSettings = GeoConfigFields.pick({ republishAfterSeconds: true });
export type RepublishSettings = z.infer<typeof RepublishSettings>;
