import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { SyncRequester } from '../shared/events/SyncRequester.ts';
import type { BackfillProgress } from '../shared/registry/RegionControl.ts';
import { RegionControl } from '../shared/registry/RegionControl.ts';
import { Registry } from '../shared/registry/Registry.ts';
import { PrimaryOverrideStore } from '../shared/primary/PrimaryOverride.ts';
import { ruleVersion } from '../shared/selectiveSync/SelectiveSyncRule.ts';
import { S3ObjectStore } from '../shared/storage/S3ObjectStore.ts';
import { reconcileSelectiveSync, type ReconcileResult } from './reconcileSelectiveSync.ts';
import { backfillApiUrl, backfillLister } from './backfillSource.ts';
import { EventLogLister } from './EventLogLister.ts';
import type { RepositoryLister } from './RepositoryLister.ts';
import { BackfillSettings } from './settings.ts';
import { BackfillSourceSchema } from '../../cdk/GeoConfig.ts';
import { runBackfill } from './runBackfill.ts';
import { TokenBucket } from './TokenBucket.ts';

// The primary region's event log holds the primary override: after `git-geo promote` the promoted host is listed.
const BackfillEnv = functionEnvSchema(['REGISTRY_TABLE', 'MIRROR_BUCKET', 'QUEUE_URL', 'EVENT_LOG_TABLE', 'EVENT_LOG_REGION'], BackfillSettings);

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

/** The event log's listing costs the primary nothing; the syncs it requests are paced as a host listing's default. */
const DEFAULT_PACE = BackfillSourceSchema.parse({ kind: 'static' });

/**
 * Builds a region's `backfill` Lambda, run every minute: a region added to the configuration
 * (or one whose selective-sync rule changed) brings itself in line without anyone running a
 * command. It removes what the rule now excludes, then runs the backfill (resumable, paced)
 * until its cursor says complete; later runs find it complete and stop at one read.
 * A paused region does nothing.
 */
export async function createBackfillHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): Promise<BackfillHandler> {
  const config = parseEnv(BackfillEnv, env, 'backfill');
  const settings = config.GIT_GEO_SETTINGS;
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const logger = new Logger({ serviceName: 'git-geo-backfill' });
  const metrics = new Metrics({ namespace: 'GitGeo', serviceName: 'backfill' });
  const db = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(aws), hooks), { marshallOptions: { removeUndefinedValues: true } });
  const registry = new Registry(db, config.REGISTRY_TABLE);
  const control = new RegionControl(db, config.REGISTRY_TABLE);
  const store = new S3ObjectStore(withHooks(new S3Client(aws), hooks), config.MIRROR_BUCKET);
  const requester = new SyncRequester(withHooks(new SQSClient(aws), hooks), config.QUEUE_URL);
  const secrets = withHooks(new SecretsManagerClient(clientConfig(settings.primaryRegion, config.AWS_ENDPOINT_URL)), hooks);
  const eventLogDb = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(clientConfig(config.EVENT_LOG_REGION, config.AWS_ENDPOINT_URL)), hooks));
  const overrides = new PrimaryOverrideStore(eventLogDb, config.EVENT_LOG_TABLE, settings.primaryOverrideCacheSeconds * 1000);
  // Without a host listing, the repositories the event log knows: a new region fills itself with any host.
  const eventLogLister = new EventLogLister(eventLogDb, config.EVENT_LOG_TABLE);
  const rule = settings.selectiveSyncRule;
  const version = ruleVersion(rule);
  const source = settings.backfill;
  // One lister per API URL: after `git-geo promote`, the promoted host is listed.
  const listers = new Map<string, Promise<RepositoryLister>>();
  const listerNow = async (): Promise<RepositoryLister> => {
    if (source === undefined) return eventLogLister;
    const apiUrl = backfillApiUrl(source, await overrides.url(settings.primaryUrls[0]!));
    let lister = listers.get(apiUrl);
    if (lister === undefined) {
      lister = backfillLister({ ...source, apiUrl }, secrets);
      void lister.catch(() => listers.delete(apiUrl));
      listers.set(apiUrl, lister);
    }
    return await lister;
  };
  // Checked at cold start: a named token secret must be readable.
  await listerNow();

  const handle = async (event: unknown, context: Context): Promise<BackfillRunResult> => {
    const restart = (event as { restart?: unknown } | undefined)?.restart === true;
    const state = await control.get();
    if (state.paused) return { skipped: 'paused' };
    let reconciled: ReconcileResult | undefined;
    if (state.reconciledRuleVersion !== version) {
      reconciled = await reconcileSelectiveSync({ registry, store, rule, now: () => new Date() });
      if (reconciled.busy.length === 0) await control.saveReconciledRuleVersion(version);
      if (reconciled.removed.length > 0) logger.info('removed repositories the selective-sync rule excludes', { count: reconciled.removed.length });
      metrics.addMetric('RepositoriesExcludedRemoved', MetricUnit.Count, reconciled.removed.length);
    }
    const lister = await listerNow();
    const outcome = await runBackfill({
      lister,
      requester,
      registry,
      control,
      rule,
      ruleVersion: version,
      bucket: new TokenBucket(source?.requestsPerSecond ?? DEFAULT_PACE.requestsPerSecond, source?.burst ?? DEFAULT_PACE.burst),
      now: () => new Date(),
      deadline: Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS,
      restart,
      skipDeleted: source === undefined,
    });
    if (outcome.progress) metrics.addMetric('BackfillRequested', MetricUnit.Count, outcome.progress.requested);
    return { ...(reconciled ? { reconciled } : {}), ...(outcome.progress ? { backfill: outcome.progress } : {}), ...(outcome.busy ? { busy: true } : {}) };
  };
  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
