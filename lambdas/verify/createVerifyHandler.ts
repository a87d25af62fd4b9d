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
import { z } from 'zod';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { AwsEnvSchema, RefNamespacesSchema, UrlListSchema } from '../shared/config/envSchemas.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { ValidationError } from '../shared/errors/index.ts';
import { SyncRequester } from '../shared/events/SyncRequester.ts';
import { PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import { blobSteps } from '../replicable/blobSteps.ts';
import { ItemRegistry } from '../replicable/ItemRegistry.ts';
import { RegionControl } from '../shared/registry/RegionControl.ts';
import { Registry } from '../shared/registry/Registry.ts';
import { REPLICATION_STATUSES } from '../shared/registry/RepositoryState.ts';
import { parseRepositoryPath } from '../shared/repositoryPath.ts';
import { basicAuthorization, SecretReader } from '../shared/secrets/SecretReader.ts';
import { S3ObjectStore } from '../shared/storage/S3ObjectStore.ts';
import { verifyRepository, type VerifyDependencies, type VerifyOutcome } from './verifyRepository.ts';
import { watchStuckSyncs } from './watchStuckSyncs.ts';

const VerifyEnv = AwsEnvSchema.extend({
  REGISTRY_TABLE: z.string().min(1),
  MIRROR_BUCKET: z.string().min(1),
  QUEUE_URL: z.url(),
  PRIMARY_URLS: UrlListSchema,
  PRIMARY_CREDENTIALS_SECRET_ID: z.string().min(1).optional(),
  SECRETS_REGION: z.string().min(1).optional(),
  PRIMARY_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  REF_NAMESPACES: RefNamespacesSchema.default(['refs/heads/', 'refs/tags/']),
  /** The sync function's lease (its timeout): a sync `started` longer than this is stuck. */
  SYNC_LEASE_SECONDS: z.coerce.number().int().min(1).max(43_200),
  /** A repository verified less than this long ago is not verified again by the schedule. */
  VERIFY_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(86_400),
  MAX_REPAIRS: z.coerce.number().int().min(0).max(100).default(3),
  REPAIR_BACKOFF_SECONDS: z.coerce.number().int().min(1).max(86_400).default(300),
});

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
    withHooks(new SecretsManagerClient(clientConfig(config.SECRETS_REGION ?? config.AWS_REGION, config.AWS_ENDPOINT_URL)), hooks),
  );
  const primaryAuthorization = async (): Promise<string | undefined> =>
    config.PRIMARY_CREDENTIALS_SECRET_ID === undefined ? undefined : basicAuthorization(await secrets.primaryCredentials(config.PRIMARY_CREDENTIALS_SECRET_ID));
  const primaryRemote = async (): Promise<PrimaryRemote> =>
    new PrimaryRemote({ baseUrl: config.PRIMARY_URLS[0]!, authorization: await primaryAuthorization(), timeoutMs: config.PRIMARY_TIMEOUT_MS, userAgent: 'git-geo-verify' });
  // Fail at cold start when the credentials secret is named but unreadable.
  await primaryRemote();

  const handle = async (event: unknown, context: Context): Promise<VerifyResult> => {
    const parsed = VerifyRequest.safeParse(event ?? {});
    if (!parsed.success) throw new ValidationError(`bad verify request: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
    const request = parsed.data;
    const now = (): Date => new Date();
    if (request.action === 'watchdog') {
      const { requested } = await watchStuckSyncs({ registry, requester, now, leaseSeconds: config.SYNC_LEASE_SECONDS });
      if (requested.length > 0) logger.warn('syncs stuck in started were requested again', { repositories: requested.slice(0, 50), count: requested.length });
      metrics.addMetric(METRIC.stuckSyncs, MetricUnit.Count, requested.length);
      return { action: 'watchdog', counts: { requested: requested.length }, requested };
    }
    const blobs = blobSteps(store, { baseUrl: config.PRIMARY_URLS[0]!, authorization: await primaryAuthorization(), timeoutMs: config.PRIMARY_TIMEOUT_MS, userAgent: 'git-geo-verify' }, {
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
      primary: await primaryRemote(),
      requester,
      refNamespaces: config.REF_NAMESPACES,
      now,
      deep: request.deep,
      maxRepairs: config.MAX_REPAIRS,
      repairBackoffSeconds: config.REPAIR_BACKOFF_SECONDS,
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
      const cutoff = new Date(Date.now() - config.VERIFY_INTERVAL_SECONDS * 1000).toISOString();
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
