import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { z } from 'zod';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
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
  readonly garbage: GarbageCollectionResult;
}

export type BackupHandler = (event: ScheduledEvent, context: Context) => Promise<BackupResult>;

/**
 * Builds the `backup` Lambda, run on a schedule in every region: a point-in-time snapshot of
 * every mirror (a manifest of refs and pack names, no data copied), then the garbage collector
 * that enforces the retention policy and deletes packs nothing needs any more.
 */
export function createBackupHandler(env: Readonly<Record<string, string | undefined>>): BackupHandler {
  const config = parseEnv(BackupEnv, env, 'backup');
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const registry = new Registry(DynamoDBDocumentClient.from(new DynamoDBClient(aws), { marshallOptions: { removeUndefinedValues: true } }), config.REGISTRY_TABLE);
  const store = new S3ObjectStore(new S3Client(aws), config.MIRROR_BUCKET);
  const logger = new Logger({ serviceName: 'git-geo-backup' });
  const metrics = new Metrics({ namespace: 'GitGeo', serviceName: 'backup' });
  const retention = config.GIT_GEO_SETTINGS.backupRetention;

  const handle = async (): Promise<BackupResult> => {
    const manifest = await takeSnapshot({ store, registry, region: config.AWS_REGION, now: () => new Date() });
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
    return { snapshotId: manifest.id, repositories: manifest.repositories.length, garbage };
  };

  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
