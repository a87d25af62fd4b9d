import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { addTypeMetric, geoMetrics, ITEM_METRIC, METRIC, MetricUnit } from '../shared/metricNames.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { ValidationError } from '../shared/errors/index.ts';
import { SyncRequester } from '../shared/events/SyncRequester.ts';
import { blobSteps } from '../replicable/blobSteps.ts';
import { ItemRegistry } from '../replicable/ItemRegistry.ts';
import { ActivePrimary } from '../shared/primary/ActivePrimary.ts';
import { PrimaryOverrideStore } from '../shared/primary/PrimaryOverride.ts';
import { RegionControl } from '../shared/registry/RegionControl.ts';
import { Registry } from '../shared/registry/Registry.ts';
import { REPLICATION_STATUSES } from '../shared/registry/RepositoryState.ts';
import { parseRepositoryPath } from '../shared/repositoryPath.ts';
import { SecretReader } from '../shared/secrets/SecretReader.ts';
import { S3ObjectStore } from '../shared/storage/S3ObjectStore.ts';
import { VerifySettings } from './settings.ts';
import { verifyRepository, type VerifyDependencies, type VerifyOutcome } from './verifyRepository.ts';
import { watchStuckSyncs } from './watchStuckSyncs.ts';
import { USER_AGENTS } from '../shared/git/userAgents.ts';

const VerifyEnv = functionEnvSchema(['REGISTRY_TABLE', 'MIRROR_BUCKET', 'QUEUE_URL'], VerifySettings);

/** What the function is asked: the schedules pass `action`; `git-geo verify` passes a repository and `force`. */
const VerifyRequest = z.object({
  action: z.enum(['verify', 'watchdog']).default('verify'),
  repository: z.string().optional(),
  /** Verify even when backoff or a give-up says wait (an operator asking). */
  force: z.boolean().default(false),
  deep: z.boolean().default(true),
});

export interface VerifyResult {
  readonly action: 'verify' | 'watchdog';
  /** A paused region's schedules do nothing: they would queue syncs the pause holds back. */
  readonly skipped?: 'paused';
  readonly counts: Readonly<Record<string, number>>;
  readonly outcomes?: Readonly<Record<string, VerifyOutcome>>;
  readonly requested?: readonly string[];
  /** True when the deadline came before every due repository was verified (the next run goes on). */
  readonly truncated?: boolean;
}

export type VerifyHandler = (event: unknown, context: Context) => Promise<VerifyResult>;

/** Time kept for the last verification when the invocation's deadline nears. */
const SAFETY_MARGIN_MS = 60_000;
const PARALLEL = 4;

/**
 * Builds the `verify` Lambda of a region. On its schedule it verifies every repository due
 * (never verified, failed, or verified longer ago than the interval), deep, and heals what it
 * finds (verifyRepository); its watchdog schedule retries syncs stuck in `started`. Asked
 * directly (`git-geo verify`), it verifies one repository or all of them now.
 */
export async function createVerifyHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): Promise<VerifyHandler> {
  const config = parseEnv(VerifyEnv, env, 'verify');
  const settings = config.GIT_GEO_SETTINGS;
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const logger = new Logger({ serviceName: 'git-geo-verify' });
  const metrics = geoMetrics(config.AWS_REGION);
  const documents = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(aws), hooks), { marshallOptions: { removeUndefinedValues: true } });
  const registry = new Registry(documents, config.REGISTRY_TABLE);
  const items = new ItemRegistry(documents, config.REGISTRY_TABLE);
  const control = new RegionControl(documents, config.REGISTRY_TABLE);
  const store = new S3ObjectStore(withHooks(new S3Client(aws), hooks), config.MIRROR_BUCKET);
  const requester = new SyncRequester(withHooks(new SQSClient(aws), hooks), config.QUEUE_URL);
  const secrets = new SecretReader(
    withHooks(new SecretsManagerClient(aws), hooks),
  );
  // The region's own copy of the primary override `git-geo promote` writes (as sync reads it).
  const overrides = PrimaryOverrideStore.regional(documents, config.REGISTRY_TABLE, settings.primaryOverrideCacheSeconds * 1000);
  // After `git-geo promote`, mirrors are compared with the promoted host, not the configured one.
  const activePrimary = new ActivePrimary(overrides, secrets, settings, { userAgent: USER_AGENTS.verify });
  // Fail at cold start when the credentials secret is named but unreadable.
  await activePrimary.resolve();

  const handle = async (event: unknown, context: Context): Promise<VerifyResult> => {
    const parsed = VerifyRequest.safeParse(event ?? {});
    if (!parsed.success) throw new ValidationError(`bad verify request: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
    const request = parsed.data;
    const now = (): Date => new Date();
    // Paused: the schedules hold off (an operator's `git-geo verify` asks with force, and runs).
    if (!request.force && (await control.get()).paused) {
      logger.info('region paused; scheduled run skipped', { action: request.action });
      return { action: request.action, skipped: 'paused', counts: {} };
    }
    if (request.action === 'watchdog') {
      const { requested } = await watchStuckSyncs({ registry, requester, now, leaseSeconds: settings.syncTimeoutSeconds });
      if (requested.length > 0) logger.warn('syncs stuck in started were requested again', { repositories: requested.slice(0, 50), count: requested.length });
      metrics.addMetric(METRIC.stuckSyncs, MetricUnit.Count, requested.length);
      return { action: 'watchdog', counts: { requested: requested.length }, requested };
    }
    const primary = await activePrimary.resolve();
    const blobs = blobSteps(store, { baseUrl: primary.url, authorization: primary.authorization, timeoutMs: settings.primaryTimeoutSeconds * 1000, userAgent: USER_AGENTS.verify }, {
      items,
      onResult: (type, _step, repository, result) => {
        const { ids: _ids, ...found } = result;
        if (result.failed.length + result.fetched > 0) logger.warn('replicated items repaired', { type, repository, ...found });
        addTypeMetric(config.AWS_REGION, type, ITEM_METRIC.verified, MetricUnit.Count, result.items - result.failed.length);
        addTypeMetric(config.AWS_REGION, type, ITEM_METRIC.repaired, MetricUnit.Count, result.fetched);
        const failed = (result.unrepaired?.length ?? 0) + result.missingOnPrimary.length;
        if (failed > 0) addTypeMetric(config.AWS_REGION, type, ITEM_METRIC.failed, MetricUnit.Count, failed);
      },
    });
    const deps: VerifyDependencies = {
      blobs: (repository) => blobs.verify(repository),
      registry,
      store,
      primary: primary.remote,
      requester,
      refNamespaces: settings.refNamespaces,
      now,
      deep: request.deep,
      maxRepairs: settings.maxVerificationRepairs,
      repairBackoffSeconds: settings.verificationBackoffSeconds,
      leaseSeconds: Math.max(60, Math.ceil(context.getRemainingTimeInMillis() / 1000)),
    };
    const counts: Record<string, number> = {};
    const outcomes: Record<string, VerifyOutcome> = {};
    const record = (repository: string, outcome: VerifyOutcome): void => {
      const key = outcome.kind === 'skipped' ? `skipped:${outcome.reason}` : outcome.kind;
      counts[key] = (counts[key] ?? 0) + 1;
      if (outcome.kind !== 'skipped' || request.repository !== undefined) outcomes[repository] = outcome;
      if (outcome.kind === 'repairing' || outcome.kind === 'gave-up') logger.warn('mirror damaged', { repository, outcome });
      if (outcome.kind === 'verified') metrics.addMetric(METRIC.verificationsPassed, MetricUnit.Count, 1);
      if (outcome.kind === 'repairing' || outcome.kind === 'gave-up') metrics.addMetric(METRIC.verificationsFailed, MetricUnit.Count, 1);
      if (outcome.kind === 'gave-up') metrics.addMetric(METRIC.repairsGivenUp, MetricUnit.Count, 1);
    };
    if (request.repository !== undefined) {
      const repository = parseRepositoryPath(request.repository);
      record(repository, await verifyRepository(deps, repository, { force: request.force }));
    } else {
      // Due: every repository not verified, and the verified ones last verified before the interval (the status index: no Scan).
      const due: string[] = [];
      const cutoff = new Date(Date.now() - settings.verifyIntervalHours * 3600 * 1000).toISOString();
      for (const status of REPLICATION_STATUSES) {
        const options = status === 'verified' && !request.force ? { verifiedBefore: cutoff } : {};
        for await (const entry of registry.withStatus(status, options)) due.push(entry.repository);
      }
      let next = 0;
      let truncated = false;
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < due.length) {
            if (context.getRemainingTimeInMillis() < SAFETY_MARGIN_MS) {
              truncated = true;
              return;
            }
            const repository = parseRepositoryPath(due[next++]!);
            try {
              record(repository, await verifyRepository(deps, repository, { force: request.force }));
            } catch (error) {
              counts.error = (counts.error ?? 0) + 1;
              logger.error('verification failed to run', { repository, error: error as Error });
            }
          }
        }),
      );
      if (truncated) logger.warn('verification deadline reached; the next run continues', { due: due.length });
      for (const [kind, count] of Object.entries(counts)) metrics.addMetric(`Verify_${kind.replace(/[^A-Za-z]/g, '_')}`, MetricUnit.Count, count);
      await control.saveRun('lastVerification', { at: now().toISOString(), counts: { ...counts, ...(truncated ? { truncated: 1 } : {}) } });
      return { action: 'verify', counts, outcomes, ...(truncated ? { truncated } : {}) };
    }
    return { action: 'verify', counts, outcomes };
  };
  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
