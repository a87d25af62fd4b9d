import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { addSyncOutcome, addTypeMetric, causeCode, geoMetrics, ITEM_METRIC, METRIC, MetricUnit } from '../shared/metricNames.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import * as z from 'zod';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { AccessDeniedError, GeoError, RepositoryMovedError } from '../shared/errors/index.ts';
import { parseHeartbeat } from '../shared/events/ControlPlaneHeartbeat.ts';
import { parseChangeEvent } from '../shared/events/parseChangeEvent.ts';
import { FETCH_ENGINES } from '../shared/git/PrimaryRemote.ts';
import { ActivePrimary, type ResolvedPrimary } from '../shared/primary/ActivePrimary.ts';
import { ItemRegistry } from '../replicable/ItemRegistry.ts';
import { typeOfRepository } from '../replicable/registry.ts';
import { PrimaryOverrideStore } from '../shared/primary/PrimaryOverride.ts';
import { Registry } from '../shared/registry/Registry.ts';
import { SecretReader } from '../shared/secrets/SecretReader.ts';
import { S3ObjectStore } from '../shared/storage/S3ObjectStore.ts';
import { isIncluded } from '../shared/selectiveSync/SelectiveSyncRule.ts';
import { blobSteps, type BlobSteps } from '../replicable/blobSteps.ts';
import { DeadLetterQueue } from './DeadLetterQueue.ts';
import { SyncSettings } from './settings.ts';
import { SyncFailedError } from './SyncFailedError.ts';
import { retryDelaySeconds } from './retryDelaySeconds.ts';
import { SyncPostponedError } from './SyncPostponedError.ts';
import { syncRepository, type SyncDependencies, type SyncOutcome } from './syncRepository.ts';
import { VisibilityHeartbeat } from './VisibilityHeartbeat.ts';
import { MAX_POINTER_BYTES } from '../shared/lfs/LfsPointer.ts';
import { USER_AGENTS } from '../shared/git/userAgents.ts';

/** Blobs LFS pointer discovery reads: pointer-sized, starting as the pointer spec says. */
const LFS_POINTER_START = Buffer.from('version ');
const isLfsPointerCandidate = (content: Buffer): boolean => content.length <= MAX_POINTER_BYTES && content.subarray(0, LFS_POINTER_START.length).equals(LFS_POINTER_START);

const SyncEnv = functionEnvSchema(['REGISTRY_TABLE', 'MIRROR_BUCKET', 'QUEUE_URL', 'DEAD_LETTER_QUEUE_URL'], SyncSettings).extend({
  /** Not configuration: how packs are fetched; isomorphic-git's own fetch stays available as a fallback. */
  FETCH_ENGINE: z.enum(FETCH_ENGINES).default('native'),
  /** The queue's visibility timeout, when it is not the sync's timeout (as the stack sets it): tests shorten it. */
  QUEUE_VISIBILITY_SECONDS: z.coerce.number().int().min(1).max(43_200).optional(),
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
  const settings = config.GIT_GEO_SETTINGS;
  const visibilitySeconds = config.QUEUE_VISIBILITY_SECONDS ?? settings.syncTimeoutSeconds;
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const logger = new Logger({ serviceName: 'git-geo-sync' });
  const metrics = geoMetrics(config.AWS_REGION);
  const sqs = withHooks(new SQSClient(aws), hooks);
  const registryDb = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(aws), hooks), { marshallOptions: { removeUndefinedValues: true } });
  const registry = new Registry(registryDb, config.REGISTRY_TABLE);
  const items = new ItemRegistry(registryDb, config.REGISTRY_TABLE);
  const store = new S3ObjectStore(withHooks(new S3Client(aws), hooks), config.MIRROR_BUCKET);
  const secrets = new SecretReader(
    withHooks(new SecretsManagerClient(aws), hooks),
  );
  const deadLetters = new DeadLetterQueue(sqs, config.DEAD_LETTER_QUEUE_URL);
  // The region's own copy of the primary override `git-geo promote` writes: nothing here reads another region.
  const overrides = PrimaryOverrideStore.regional(registryDb, config.REGISTRY_TABLE, settings.primaryOverrideCacheSeconds * 1000);
  // The active primary: the configured one, or the host `git-geo promote` made primary (read every few seconds).
  const activePrimary = new ActivePrimary(overrides, secrets, settings, { userAgent: USER_AGENTS.sync, engine: config.FETCH_ENGINE });
  const primaryFor = async (fresh = false): Promise<ResolvedPrimary & { blobs: BlobSteps }> => {
    const resolved = await activePrimary.resolve({ fresh });
    const blobs = blobSteps(store, { baseUrl: resolved.url, authorization: resolved.authorization, timeoutMs: settings.primaryTimeoutSeconds * 1000, userAgent: USER_AGENTS.sync }, {
      items,
      onResult: (type, _step, repository, result) => {
        const { ids: _ids, ...counts } = result;
        logger.info('replicated', { type, repository, ...counts, missingOnPrimary: result.missingOnPrimary.length });
        addTypeMetric(config.AWS_REGION, type, ITEM_METRIC.replicated, MetricUnit.Count, result.fetched);
        addTypeMetric(config.AWS_REGION, type, ITEM_METRIC.replicatedBytes, MetricUnit.Bytes, result.fetchedBytes);
        if (result.missingOnPrimary.length > 0) addTypeMetric(config.AWS_REGION, type, ITEM_METRIC.failed, MetricUnit.Count, result.missingOnPrimary.length);
      },
    });
    return { ...resolved, blobs };
  };
  // Fail at cold start when the credentials secret is named but unreadable.
  await primaryFor();

  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
    const heartbeat = new VisibilityHeartbeat(sqs, config.QUEUE_URL, visibilitySeconds);
    heartbeat.start(event.Records);
    // Every record of this batch was on the queue by now: a sync from here on covers them all.
    const batch = { receivedAt: new Date().toISOString() };
    let primary = await primaryFor();
    const base = {
      registry,
      store,
      refNamespaces: settings.refNamespaces,
      now: () => new Date(),
      deletedRepositories: settings.deletedRepositories,
      authenticated: primary.authenticated,
      leaseSeconds: visibilitySeconds,
      retryBaseSeconds: settings.syncRetryBaseSeconds,
      minSyncIntervalSeconds: settings.minSyncIntervalSeconds,
      packMaintenance: {
        minPacks: settings.packMaintenance.minPacks,
        factor: settings.packMaintenance.factor,
        maxBytes: settings.packMaintenance.maxMiB * 2 ** 20,
        ...(settings.bundleMinPackMiB === 0 ? {} : { bundles: { minPackBytes: settings.bundleMinPackMiB * 2 ** 20 } }),
      },
    };
    const depsFor = (record: SQSRecord): SyncDependencies => ({ ...base, primary: primary.remote, owner: record.messageId, afterPackStored: primary.blobs.afterPackStored, blobStepCandidate: isLfsPointerCandidate });
    const sync = async (record: SQSRecord, change: ReturnType<typeof parseChangeEvent>): Promise<SyncOutcome> => {
      try {
        return await syncRepository(depsFor(record), change, batch);
      } catch (error) {
        if (!primary.authenticated || !(error instanceof SyncFailedError && error.cause instanceof AccessDeniedError)) throw error;
        // The primary refused the cached credentials: re-read the secret once, so a rotation takes effect now.
        const refreshed = await primaryFor(true);
        if (refreshed.authorization === primary.authorization) throw error;
        primary = refreshed;
        return await syncRepository(depsFor(record), change, batch);
      }
    };
    const handleRecord = async (record: SQSRecord): Promise<void> => {
      let log: Record<string, unknown> = { messageId: record.messageId };
      try {
        // Heartbeats are for the announce function; the subscription filters them out, this covers a lagging filter change.
        if (parseHeartbeat(record.body) !== undefined) {
          heartbeat.finished(record.messageId);
          return;
        }
        metrics.addMetric(METRIC.eventsReceived, MetricUnit.Count, 1);
        const change = parseChangeEvent(record.body);
        log = { messageId: record.messageId, repository: change.repository, sequence: change.sequence, kind: change.kind };
        if (!isIncluded(settings.selectiveSyncRule, change.repository)) {
          heartbeat.finished(record.messageId);
          logger.info('event dropped: the selective-sync rule excludes the repository', log);
          metrics.addMetric('EventsExcluded', MetricUnit.Count, 1);
          addSyncOutcome(metrics, 'excluded', 'selective-sync');
          return;
        }
        const outcome = await sync(record, change);
        if (outcome.kind === 'postponed') throw new SyncPostponedError(change.repository, outcome.retryInSeconds);
        // A deleted repository's items (LFS objects) go with it from the registry.
        if (outcome.kind === 'deleted') await items.removeRepository(change.repository);
        heartbeat.finished(record.messageId);
        logger.info('sync finished', { ...log, outcome });
        if (outcome.kind === 'synced' && outcome.refusedRefs !== undefined) {
          // Not mirrored, and shown in the registry (refusedRefs) until a sync finds none.
          logger.warn('the primary advertises refs whose names git refuses; they are not mirrored', { ...log, refusedRefs: outcome.refusedRefs });
          metrics.addMetric('RefsRefused', MetricUnit.Count, outcome.refusedRefs.length);
        }
        metrics.addMetric(outcome.kind === 'covered' ? 'EventsCovered' : outcome.kind === 'deleted' ? 'Deletions' : 'Syncs', MetricUnit.Count, 1);
        metrics.addMetric(METRIC.syncsSucceeded, MetricUnit.Count, 1);
        addSyncOutcome(metrics, outcome.kind, outcome.kind === 'covered' ? outcome.reason : change.kind);
        // Push to replicated: the event's receipt by notify to now, when this region's copy covers it.
        metrics.addMetric(METRIC.replicationLag, MetricUnit.Milliseconds, Math.max(0, Date.now() - Date.parse(change.receivedAt)));
        if (outcome.kind === 'synced') metrics.addMetric(METRIC.bytesFetched, MetricUnit.Bytes, outcome.fetchedBytes);
        if (outcome.kind === 'synced') addTypeMetric(config.AWS_REGION, typeOfRepository(change.repository), ITEM_METRIC.replicated, MetricUnit.Count, 1);
      } catch (error) {
        if (error instanceof GeoError && !error.retryable) {
          heartbeat.finished(record.messageId);
          if (error.cause instanceof RepositoryMovedError) {
            // The primary redirects the path: the rename event moves the mirror; replaying this one could not help.
            logger.warn('repository moved on the primary; event dropped', { ...log, error });
            metrics.addMetric('EventsForMovedRepositories', MetricUnit.Count, 1);
            addSyncOutcome(metrics, 'moved', error.code);
            return;
          }
          // Permanent: recorded in the registry, and parked in the dead-letter queue for `git-geo redrive`
          // once an operator has fixed the cause; retrying now would only loop.
          await deadLetters.send(record, error);
          logger.error('sync failed permanently; message moved to the dead-letter queue', { ...log, error });
          metrics.addMetric(METRIC.syncsFailedPermanently, MetricUnit.Count, 1);
          addSyncOutcome(metrics, 'failed-permanent', causeCode(error));
          return;
        }
        const delay = retryDelaySeconds(error, Number(record.attributes.ApproximateReceiveCount ?? 1));
        if (error instanceof SyncPostponedError) {
          logger.info('sync postponed', { ...log, retryInSeconds: delay });
          metrics.addMetric('SyncsPostponed', MetricUnit.Count, 1);
          addSyncOutcome(metrics, 'postponed', error.code);
        } else {
          logger.warn('sync failed, will retry', { ...log, retryInSeconds: delay, error: error as Error });
          metrics.addMetric(METRIC.syncsFailedTransient, MetricUnit.Count, 1);
          addSyncOutcome(metrics, 'failed-transient', causeCode(error));
        }
        if (delay !== undefined) await heartbeat.retryGroupAfter(event.Records, record, delay);
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
