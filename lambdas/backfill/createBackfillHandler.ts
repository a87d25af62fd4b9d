import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { geoMetrics, MetricUnit } from '../shared/metricNames.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { AwsEnvSchema } from '../shared/config/envSchemas.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { SyncRequester } from '../shared/events/SyncRequester.ts';
import type { BackfillProgress } from '../shared/registry/RegionControl.ts';
import { RegionControl } from '../shared/registry/RegionControl.ts';
import { ItemRegistry } from '../replicable/ItemRegistry.ts';
import { Registry } from '../shared/registry/Registry.ts';
import { ruleVersion, SelectiveSyncRuleEnvSchema } from '../shared/selectiveSync/SelectiveSyncRule.ts';
import { S3ObjectStore } from '../shared/storage/S3ObjectStore.ts';
import { reconcileSelectiveSync, type ReconcileResult } from './reconcileSelectiveSync.ts';
import { BackfillSourceEnvSchema, backfillLister } from './backfillSource.ts';
import { runBackfill } from './runBackfill.ts';
import { TokenBucket } from './TokenBucket.ts';

const BackfillEnv = AwsEnvSchema.extend({
  REGISTRY_TABLE: z.string().min(1),
  MIRROR_BUCKET: z.string().min(1),
  QUEUE_URL: z.url(),
  SELECTIVE_SYNC: SelectiveSyncRuleEnvSchema,
  /** Where the primary's repositories are listed (JSON); without it the function only reconciles. */
  BACKFILL_SOURCE: BackfillSourceEnvSchema.optional(),
  SECRETS_REGION: z.string().min(1).optional(),
});

export interface BackfillRunResult {
  readonly skipped?: 'paused';
  readonly reconciled?: ReconcileResult;
  readonly backfill?: BackfillProgress;
  /** Another run (the schedule's) is backfilling: this one did nothing. */
  readonly busy?: boolean;
}

export type BackfillHandler = (event: unknown, context: Context) => Promise<BackfillRunResult>;

/** Time kept to save progress when the invocation's deadline nears. */
const SAFETY_MARGIN_MS = 30_000;

/**
 * Builds a region's `backfill` Lambda, run every minute: a region added to the configuration
 * (or one whose selective-sync rule changed) brings itself in line without anyone running a
 * command. It removes what the rule now excludes, then runs the backfill (resumable, paced)
 * until its cursor says complete; later runs find it complete and stop at one read.
 * A paused region does nothing.
 */
export async function createBackfillHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): Promise<BackfillHandler> {
  const config = parseEnv(BackfillEnv, env, 'backfill');
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const logger = new Logger({ serviceName: 'git-geo-backfill' });
  const metrics = geoMetrics(config.AWS_REGION);
  const db = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(aws), hooks), { marshallOptions: { removeUndefinedValues: true } });
  const registry = new Registry(db, config.REGISTRY_TABLE);
  const control = new RegionControl(db, config.REGISTRY_TABLE);
  const store = new S3ObjectStore(withHooks(new S3Client(aws), hooks), config.MIRROR_BUCKET);
  const requester = new SyncRequester(withHooks(new SQSClient(aws), hooks), config.QUEUE_URL);
  const secrets = withHooks(new SecretsManagerClient(clientConfig(config.SECRETS_REGION ?? config.AWS_REGION, config.AWS_ENDPOINT_URL)), hooks);
  const rule = config.SELECTIVE_SYNC;
  const version = ruleVersion(rule);
  const source = config.BACKFILL_SOURCE;
  // Checked at cold start: a named token secret must be readable.
  const lister = source === undefined ? undefined : await backfillLister(source, withHooks(secrets, hooks));

  const handle = async (event: unknown, context: Context): Promise<BackfillRunResult> => {
    const restart = (event as { restart?: unknown } | undefined)?.restart === true;
    const state = await control.get();
    if (state.paused) return { skipped: 'paused' };
    let reconciled: ReconcileResult | undefined;
    if (state.reconciledRuleVersion !== version) {
      reconciled = await reconcileSelectiveSync({ registry, items: new ItemRegistry(db, config.REGISTRY_TABLE), store, rule, now: () => new Date() });
      if (reconciled.busy.length === 0) await control.saveReconciledRuleVersion(version);
      if (reconciled.removed.length > 0) logger.info('removed repositories the selective-sync rule excludes', { count: reconciled.removed.length });
      metrics.addMetric('RepositoriesExcludedRemoved', MetricUnit.Count, reconciled.removed.length);
    }
    if (lister === undefined || source === undefined) return { ...(reconciled ? { reconciled } : {}) };
    const outcome = await runBackfill({
      lister,
      requester,
      registry,
      control,
      rule,
      ruleVersion: version,
      bucket: new TokenBucket(source.requestsPerSecond, source.burst),
      now: () => new Date(),
      deadline: Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS,
      restart,
    });
    if (outcome.progress) metrics.addMetric('BackfillRequested', MetricUnit.Count, outcome.progress.requested);
    return { ...(reconciled ? { reconciled } : {}), ...(outcome.progress ? { backfill: outcome.progress } : {}), ...(outcome.busy ? { busy: true } : {}) };
  };
  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
