import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import middy from '@middy/core';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { GeoError } from '../shared/errors/index.ts';
import { parseHeartbeat } from '../shared/events/ControlPlaneHeartbeat.ts';
import { parseChangeEvent } from '../shared/events/parseChangeEvent.ts';
import { Announcements } from '../shared/registry/Announcements.ts';
import { isIncluded } from '../shared/selectiveSync/SelectiveSyncRule.ts';
import { AnnounceSettings } from './settings.ts';

const AnnounceEnv = functionEnvSchema(['REGISTRY_TABLE'], AnnounceSettings);

export type AnnounceHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Builds the `announce` Lambda: the region's second subscriber to the change topic. It records
 * each change event's sequence in the region's registry the moment the message arrives (and each
 * control-plane heartbeat on the region's control item), independently of the sync's backlog or a
 * pause, so the region's endpoint can tell fresh from stale with two regional numbers.
 */
export function createAnnounceHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): AnnounceHandler {
  const config = parseEnv(AnnounceEnv, env, 'announce');
  const settings = config.GIT_GEO_SETTINGS;
  const logger = new Logger({ serviceName: 'git-geo-announce' });
  const metrics = new Metrics({ namespace: 'GitGeo', serviceName: 'announce' });
  const db = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL)), hooks));
  const announcements = new Announcements(db, config.REGISTRY_TABLE);

  const handleRecord = async (record: SQSRecord): Promise<void> => {
    const heartbeat = parseHeartbeat(record.body);
    if (heartbeat !== undefined) {
      const active = await announcements.recordHeartbeat(heartbeat.controlPlaneRegion, heartbeat.at, settings.primaryRegion);
      metrics.addMetric(active ? 'HeartbeatsHeard' : 'HeartbeatsIgnored', MetricUnit.Count, 1);
      return;
    }
    let change;
    try {
      change = parseChangeEvent(record.body);
    } catch (error) {
      // A message that is neither: nothing to record, and retrying cannot help. The sync's own copy
      // of it goes to the dead-letter queue there.
      if (error instanceof GeoError && !error.retryable) {
        logger.warn('message ignored: not a change event or heartbeat', { messageId: record.messageId, error });
        return;
      }
      throw error;
    }
    if (!isIncluded(settings.selectiveSyncRule, change.repository)) return;
    const raised = await announcements.recordAnnounced(change.repository, change.sequence, change.receivedAt);
    metrics.addMetric(raised ? 'EventsAnnounced' : 'AnnouncementsAlreadyKnown', MetricUnit.Count, 1);
  };

  const handle = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    await processPartialResponse(event, handleRecord, new SqsFifoPartialProcessorAsync(), { context, skipGroupOnError: true, throwOnFullBatchFailure: false });
  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
