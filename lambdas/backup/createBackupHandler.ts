import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { geoMetrics, METRIC, MetricUnit } from '../shared/metricNames.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import * as z from 'zod';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { RegionControl } from '../shared/registry/RegionControl.ts';
import { Registry } from '../shared/registry/Registry.ts';
import { S3ObjectStore } from '../shared/storage/S3ObjectStore.ts';
import { collectGarbage, DEFAULT_GRACE_SECONDS, type GarbageCollectionResult } from './collectGarbage.ts';
import { BackupSettings } from './settings.ts';
import { takeSnapshot } from './takeSnapshot.ts';

const BackupEnv = functionEnvSchema(['REGISTRY_TABLE', 'MIRROR_BUCKET'], BackupSettings).extend({
  /** Not configuration: the tests shorten the garbage collector's grace period with it. */
  GC_GRACE_SECONDS: z.coerce.number().int().min(0).default(DEFAULT_GRACE_SECONDS),
});

export interface BackupResult {
  readonly snapshotId: string;
  readonly repositories: number;
  /** False when the invocation's deadline came first: the next invocation continues the same snapshot. */
  readonly complete: boolean;
  /** Collected only once a snapshot is complete (so an unfinished one never loses a pack it names). */
  readonly garbage?: GarbageCollectionResult;
}

/** Time kept for saving the cursor (and collecting garbage) when the deadline nears. */
const SAFETY_MARGIN_MS = 120_000;

export type BackupHandler = (event: ScheduledEvent, context: Context) => Promise<BackupResult>;

/**
 * Builds the `backup` Lambda, run on a schedule in every region: a point-in-time snapshot of
 * every mirror (a manifest of refs and pack names, no data copied), then the garbage collector
 * that enforces the retention policy and deletes packs nothing needs any more. A snapshot that
 * outlasts one invocation saves its cursor and is continued by the next one.
 */
export function createBackupHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): BackupHandler {
  const config = parseEnv(BackupEnv, env, 'backup');
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const documents = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(aws), hooks), { marshallOptions: { removeUndefinedValues: true } });
  const registry = new Registry(documents, config.REGISTRY_TABLE);
  const control = new RegionControl(documents, config.REGISTRY_TABLE);
  const store = new S3ObjectStore(withHooks(new S3Client(aws), hooks), config.MIRROR_BUCKET);
  const logger = new Logger({ serviceName: 'git-geo-backup' });
  const metrics = geoMetrics(config.AWS_REGION);
  const retention = config.GIT_GEO_SETTINGS.backupRetention;

  const handle = async (_event: ScheduledEvent, context: Context): Promise<BackupResult> => {
    const { manifest, complete, deferred } = await takeSnapshot({
      store,
      registry,
      region: config.AWS_REGION,
      now: () => new Date(),
      remainingMs: () => context.getRemainingTimeInMillis(),
      marginMs: SAFETY_MARGIN_MS,
    });
    if (!complete) {
      logger.info('snapshot continues in the next invocation', { snapshotId: manifest.id, repositories: manifest.repositories.length, deferred: deferred.length });
      metrics.addMetric('SnapshotsContinued', MetricUnit.Count, 1);
      return { snapshotId: manifest.id, repositories: manifest.repositories.length, complete };
    }
    const garbage = await collectGarbage({ store, retention, now: () => new Date(), graceSeconds: config.GC_GRACE_SECONDS });
    logger.info('snapshot taken', {
      snapshotId: manifest.id,
      repositories: manifest.repositories.length,
      snapshotsDeleted: garbage.snapshotsDeleted.length,
      packsDeleted: garbage.packsDeleted.length,
      bytesFreed: garbage.bytesFreed,
    });
    metrics.addMetric('SnapshotRepositories', MetricUnit.Count, manifest.repositories.length);
    metrics.addMetric('PacksCollected', MetricUnit.Count, garbage.packsDeleted.length);
    metrics.addMetric('BytesCollected', MetricUnit.Bytes, garbage.bytesFreed);
    metrics.addMetric(METRIC.backupsCompleted, MetricUnit.Count, 1);
    await control.saveRun('lastBackup', {
      at: new Date().toISOString(),
      snapshotId: manifest.id,
      counts: { repositories: manifest.repositories.length, snapshotsDeleted: garbage.snapshotsDeleted.length, packsDeleted: garbage.packsDeleted.length },
    });
    return { snapshotId: manifest.id, repositories: manifest.repositories.length, complete, garbage };
  };

  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
