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
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { functionEnvSchema, RESOURCE_ENV } from '../shared/config/functionEnv.ts';
import { ConfigurationError } from '../shared/errors/index.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { SyncRequester } from '../shared/events/SyncRequester.ts';
import type { BackfillProgress } from '../shared/registry/RegionControl.ts';
import { RegionControl } from '../shared/registry/RegionControl.ts';
import { ItemRegistry } from '../replicable/ItemRegistry.ts';
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

// Without a host listing (settings.backfill), the primary region's event log is listed: the stack names it then.
const BackfillEnv = functionEnvSchema(['REGISTRY_TABLE', 'MIRROR_BUCKET', 'QUEUE_URL'], BackfillSettings).extend({
  EVENT_LOG_TABLE: RESOURCE_ENV.EVENT_LOG_TABLE.optional(),
  EVENT_LOG_REGION: RESOURCE_ENV.EVENT_LOG_REGION.optional(),
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
  const metrics = geoMetrics(config.AWS_REGION);
  const db = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(aws), hooks), { marshallOptions: { removeUndefinedValues: true } });
  const registry = new Registry(db, config.REGISTRY_TABLE);
  const control = new RegionControl(db, config.REGISTRY_TABLE);
  const store = new S3ObjectStore(withHooks(new S3Client(aws), hooks), config.MIRROR_BUCKET);
  const requester = new SyncRequester(withHooks(new SQSClient(aws), hooks), config.QUEUE_URL);
  const secrets = withHooks(new SecretsManagerClient(aws), hooks);
  // The region's own copy of the primary override: after `git-geo promote`, the promoted host is listed.
  const overrides = PrimaryOverrideStore.regional(db, config.REGISTRY_TABLE, settings.primaryOverrideCacheSeconds * 1000);
  const rule = settings.selectiveSyncRule;
  const version = ruleVersion(rule);
  const source = settings.backfill;
  // Without a host listing, the repositories the event log knows: a new region fills itself with any host.
  const eventLogLister = source !== undefined ? undefined : eventLogListerOf(config, hooks);
  // One lister per API URL: after `git-geo promote`, the promoted host is listed.
  const listers = new Map<string, Promise<RepositoryLister>>();
  const listerNow = async (): Promise<RepositoryLister> => {
    if (eventLogLister !== undefined) return eventLogLister;
    if (source === undefined) throw new Error('unreachable: a backfill without a source lists the event log');
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
      reconciled = await reconcileSelectiveSync({ registry, items: new ItemRegistry(db, config.REGISTRY_TABLE), store, rule, now: () => new Date() });
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

function eventLogListerOf(config: { EVENT_LOG_TABLE?: string | undefined; EVENT_LOG_REGION?: string | undefined; AWS_ENDPOINT_URL?: string | undefined }, hooks: HandlerHooks | undefined): EventLogLister {
  if (config.EVENT_LOG_TABLE === undefined || config.EVENT_LOG_REGION === undefined) {
    throw new ConfigurationError('backfill: no host listing is configured (backfill) and no event log is named (EVENT_LOG_TABLE, EVENT_LOG_REGION) to list instead');
  }
  const db = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(clientConfig(config.EVENT_LOG_REGION, config.AWS_ENDPOINT_URL)), hooks));
  return new EventLogLister(db, config.EVENT_LOG_TABLE);
}
