import type { z } from 'zod';
import { GeoConfigFields } from '../../cdk/GeoConfig.ts';

/** What backup reads from the git-geo configuration (GIT_GEO_SETTINGS); defaults are GeoConfig's. */
export const BackupSettings = GeoConfigFields.pick({ backupRetention: true });
export type BackupSettings = z.infer<typeof BackupSettings>;
