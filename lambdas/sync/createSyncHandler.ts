import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
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
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { AwsEnvSchema, RefNamespacesSchema, UrlListSchema } from '../shared/config/envSchemas.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { GeoError } from '../shared/errors/index.ts';
import { parseChangeEvent } from '../shared/events/parseChangeEvent.ts';
import { FETCH_ENGINES, PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import { Registry } from '../shared/registry/Registry.ts';
import { basicAuthorization, SecretReader } from '../shared/secrets/SecretReader.ts';
import { S3ObjectStore } from '../shared/storage/S3ObjectStore.ts';
import { SyncFailedError } from './SyncFailedError.ts';
import { syncRepository } from './syncRepository.ts';
import { VisibilityHeartbeat } from './VisibilityHeartbeat.ts';

const SyncEnv = AwsEnvSchema.extend({
  REGISTRY_TABLE: z.string().min(1),
  MIRROR_BUCKET: z.string().min(1),
  QUEUE_URL: z.url(),
  QUEUE_VISIBILITY_SECONDS: z.coerce.number().int().min(1).max(43_200),
  PRIMARY_URLS: UrlListSchema,
  PRIMARY_CREDENTIALS_SECRET_ID: z.string().min(1).optional(),
  SECRETS_REGION: z.string().min(1).optional(),
  PRIMARY_TIMEOUT_MS: z.coerce.number().int().positive().default(30_000),
  REF_NAMESPACES: RefNamespacesSchema.default(['refs/heads/', 'refs/tags/']),
  /** How packs are fetched; isomorphic-git's own fetch stays available as a fallback. */
  FETCH_ENGINE: z.enum(FETCH_ENGINES).default('native'),
});

export type SyncHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Builds the `sync` Lambda: takes change events from the region's FIFO queue and brings
 * each repository's mirror up to date. Records of one repository run in order; a failed
 * record holds back the rest of its repository (message group) only, and comes back
 * after a growing backoff. Permanent failures are recorded and not retried in a loop.
 */
export async function createSyncHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): Promise<SyncHandler> {
  const config = parseEnv(SyncEnv, env, 'sync');
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const logger = new Logger({ serviceName: 'git-geo-sync' });
  const metrics = new Metrics({ namespace: 'GitGeo', serviceName: 'sync' });
  const sqs = withHooks(new SQSClient(aws), hooks);
  const registry = new Registry(
    DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(aws), hooks), { marshallOptions: { removeUndefinedValues: true } }),
    config.REGISTRY_TABLE,
  );
  const store = new S3ObjectStore(withHooks(new S3Client(aws), hooks), config.MIRROR_BUCKET);
  const secrets = new SecretReader(
    withHooks(new SecretsManagerClient(clientConfig(config.SECRETS_REGION ?? config.AWS_REGION, config.AWS_ENDPOINT_URL)), hooks),
  );
  const [primaryUrl] = config.PRIMARY_URLS;
  const primaryFor = async (): Promise<PrimaryRemote> => {
    const authorization =
      config.PRIMARY_CREDENTIALS_SECRET_ID === undefined
        ? undefined
        : basicAuthorization(await secrets.primaryCredentials(config.PRIMARY_CREDENTIALS_SECRET_ID));
    return new PrimaryRemote({ baseUrl: primaryUrl!, authorization, timeoutMs: config.PRIMARY_TIMEOUT_MS, userAgent: 'git-geo', engine: config.FETCH_ENGINE });
  };
  // Fail at cold start when the credentials secret is named but unreadable.
  await primaryFor();

  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const heartbeat = new VisibilityHeartbeat(sqs, config.QUEUE_URL, config.QUEUE_VISIBILITY_SECONDS);
    heartbeat.start(event.Records);
    // Every record of this batch was on the queue by now: a sync from here on covers them all.
    const batch = { receivedAt: new Date().toISOString() };
    const primary = await primaryFor();
    const deps = { registry, store, primary, refNamespaces: config.REF_NAMESPACES, now: () => new Date() };
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      let log: Record<string, unknown> = { messageId: record.messageId };
      try {
        const change = parseChangeEvent(record.body);
        log = { repository: change.repository, sequence: change.sequence, kind: change.kind };
        const outcome = await syncRepository(deps, change, batch);
        heartbeat.finished(record.messageId);
        logger.info('sync finished', { ...log, outcome });
        metrics.addMetric(outcome.kind === 'covered' ? 'EventsCovered' : 'Syncs', MetricUnit.Count, 1);
        if (outcome.kind === 'synced') metrics.addMetric('FetchedBytes', MetricUnit.Bytes, outcome.fetchedBytes);
      } catch (error) {
        if (error instanceof GeoError && !error.retryable) {
          // Permanent: recorded in the registry for an operator; retrying would only loop.
          heartbeat.finished(record.messageId);
          logger.error('sync failed permanently', { ...log, error });
          metrics.addMetric('SyncsFailedPermanently', MetricUnit.Count, 1);
          return;
        }
        const delay = error instanceof SyncFailedError ? error.retryInSeconds : undefined;
        logger.warn('sync failed, will retry', { ...log, retryInSeconds: delay, error: error as Error });
        metrics.addMetric('SyncsFailed', MetricUnit.Count, 1);
        if (delay !== undefined) await heartbeat.retryAfter(record.messageId, delay);
        else heartbeat.finished(record.messageId);
        throw error;
      }
    };
    try {
      return await processPartialResponse(event, handleRecord, new SqsFifoPartialProcessorAsync(), {
        context,
        skipGroupOnError: true,
        throwOnFullBatchFailure: false,
      });
    } finally {
      heartbeat.stop();
    }
  };

  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
