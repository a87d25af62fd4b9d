import type { z } from 'zod';
import type { AnnounceSettings } from '../lambdas/announce/settings.ts';
import type { BackfillSettings } from '../lambdas/backfill/settings.ts';
import type { BackupSettings } from '../lambdas/backup/settings.ts';
import { ENDPOINT_PACK_CACHE_BYTES } from '../lambdas/endpoint/limits.ts';
import type { EndpointSettings } from '../lambdas/endpoint/settings.ts';
import type { NotifySettings } from '../lambdas/notify/settings.ts';
import type { RepublishSettings } from '../lambdas/republish/settings.ts';
import type { StatusSettings } from '../lambdas/status/settings.ts';
import type { SyncSettings } from '../lambdas/sync/settings.ts';
import type { VerifySettings } from '../lambdas/verify/settings.ts';
import type { GeoConfig } from './GeoConfig.ts';

/** What sync and verify need to read the primary (or the host `git-geo promote` made primary). */
const primaryAccess = (config: GeoConfig) => ({
  primaryRegion: config.primaryRegion,
  primaryUrls: config.primaryUrls,
  primaryCredentialsSecretName: config.primaryCredentialsSecretName,
  promotionCredentialsSecretName: config.promotionCredentialsSecretName,
  refNamespaces: config.refNamespaces,
  primaryTimeoutSeconds: config.primaryTimeoutSeconds,
  primaryOverrideCacheSeconds: config.primaryOverrideCacheSeconds,
});

/**
 * Each function's settings, derived from the git-geo configuration in this one module. A
 * function receives them as one value (GIT_GEO_SETTINGS, JSON) and parses it with its
 * `settings.ts`, a pick of GeoConfig's own schema: a default is written once, in GeoConfig.
 */
export const functionSettings = {
  notify: (config: GeoConfig): z.input<typeof NotifySettings> => ({
    primaryUrls: config.primaryUrls,
    webhookSecretName: config.webhookSecretName,
    maxWebhookBytes: config.maxWebhookBytes,
    primaryOverrideCacheSeconds: config.primaryOverrideCacheSeconds,
    webhookReplayWindowSeconds: config.webhookReplayWindowSeconds,
    maxEventsPerRepositoryPerSecond: config.maxEventsPerRepositoryPerSecond,
  }),
  republish: (config: GeoConfig): z.input<typeof RepublishSettings> => ({ republishAfterSeconds: config.republishAfterSeconds }),
  sync: (config: GeoConfig, region: string): z.input<typeof SyncSettings> => ({
    ...primaryAccess(config),
    syncTimeoutSeconds: config.syncTimeoutSeconds,
    packMaintenance: config.packMaintenance,
    bundleMinPackMiB: config.bundleMinPackMiB,
    syncRetryBaseSeconds: config.syncRetryBaseSeconds,
    minSyncIntervalSeconds: config.minSyncIntervalSeconds,
    deletedRepositories: config.deletedRepositories,
    selectiveSyncRule: config.selectiveSync[region],
  }),
  verify: (config: GeoConfig): z.input<typeof VerifySettings> => ({
    ...primaryAccess(config),
    syncTimeoutSeconds: config.syncTimeoutSeconds,
    verifyIntervalHours: config.verifyIntervalHours,
    maxVerificationRepairs: config.maxVerificationRepairs,
    verificationBackoffSeconds: config.verificationBackoffSeconds,
  }),
  endpoint: (config: GeoConfig, region: string): z.input<typeof EndpointSettings> => ({
    primaryUrls: config.primaryUrls,
    refNamespaces: config.refNamespaces,
    allowReachableSha1InWant: config.allowReachableSha1InWant,
    writePendingSeconds: config.writePendingSeconds,
    accessCacheSeconds: config.accessCacheSeconds,
    anonymousTrustSeconds: config.anonymousTrustSeconds,
    primaryTimeoutSeconds: config.primaryTimeoutSeconds,
    primaryOverrideCacheSeconds: config.primaryOverrideCacheSeconds,
    onControlPlaneLoss: config.onControlPlaneLoss,
    controlPlaneLossSeconds: config.controlPlaneLossSeconds,
    stalenessBudgetSeconds: config.stalenessBudgetSeconds,
    packUrlSeconds: config.packUrlSeconds,
    packCacheBytes: ENDPOINT_PACK_CACHE_BYTES,
    readMode: config.readOnlyRegions.includes(region) ? 'read-only' : 'redirect',
  }),
  announce: (config: GeoConfig, region: string): z.input<typeof AnnounceSettings> => ({ primaryRegion: config.primaryRegion, selectiveSyncRule: config.selectiveSync[region] }),
  status: (config: GeoConfig, regionStacks: z.input<typeof StatusSettings>['regionStacks']): z.input<typeof StatusSettings> => ({
    syncTimeoutSeconds: config.syncTimeoutSeconds,
    replicationLagSloSeconds: config.replicationLagSloSeconds,
    backupIntervalMinutes: config.backupIntervalMinutes,
    statusPageRefreshSeconds: config.statusPageRefreshSeconds,
    regionStacks,
  }),
  backup: (config: GeoConfig): z.input<typeof BackupSettings> => ({ backupRetention: config.backupRetention }),
  backfill: (config: GeoConfig, region: string): z.input<typeof BackfillSettings> => ({
    primaryRegion: config.primaryRegion,
    primaryUrls: config.primaryUrls,
    backfill: config.backfill,
    primaryOverrideCacheSeconds: config.primaryOverrideCacheSeconds,
    selectiveSyncRule: config.selectiveSync[region],
  }),
} as const;
