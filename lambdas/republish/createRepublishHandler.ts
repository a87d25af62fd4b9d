import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { geoMetrics, MetricUnit } from '../shared/metricNames.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import middy from '@middy/core';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { ChangePublisher } from '../shared/events/ChangePublisher.ts';
import { publishHeartbeat } from '../shared/events/ControlPlaneHeartbeat.ts';
import { EventLog } from '../shared/eventlog/EventLog.ts';
import { republishPending, type RepublishResult } from './republishPending.ts';
import { RepublishSettings } from './settings.ts';

const RepublishEnv = functionEnvSchema(['EVENT_LOG_TABLE', 'TOPIC_ARN'], RepublishSettings);

export type RepublishHandler = (event: ScheduledEvent, context: Context) => Promise<RepublishResult>;

/** Time left for the last publish when the invocation's deadline nears. */
const SAFETY_MARGIN_MS = 5000;

/**
 * Builds the `republish` Lambda, run on a schedule in the primary region: nothing recorded in
 * the event log is lost when SNS was unavailable at the moment notify published it. Each run
 * also publishes the control plane's heartbeat.
 */
export function createRepublishHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): RepublishHandler {
  const config = parseEnv(RepublishEnv, env, 'republish');
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const db = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient(aws), hooks), { marshallOptions: { removeUndefinedValues: true } });
  const logger = new Logger({ serviceName: 'git-geo-republish' });
  const metrics = geoMetrics(config.AWS_REGION);
  const eventLog = new EventLog(db, config.EVENT_LOG_TABLE);
  const sns = withHooks(new SNSClient(aws), hooks);
  const publisher = new ChangePublisher(sns, config.TOPIC_ARN);

  const handle = async (_event: ScheduledEvent, context: Context): Promise<RepublishResult> => {
    const result = await republishPending({
      eventLog,
      publisher,
      now: () => new Date(),
      minAgeSeconds: config.GIT_GEO_SETTINGS.republishAfterSeconds,
      deadline: Date.now() + context.getRemainingTimeInMillis() - SAFETY_MARGIN_MS,
    });
    // The minute's heartbeat: regions that stop hearing it know announcements may be missing.
    try {
      await publishHeartbeat(sns, config.TOPIC_ARN, config.AWS_REGION, new Date());
    } catch (error) {
      logger.warn('heartbeat not published', { error: error as Error });
      metrics.addMetric('HeartbeatsFailed', MetricUnit.Count, 1);
    }
    if (result.published > 0 || result.failed > 0) logger.warn('republished unpublished change events', { ...result });
    metrics.addMetric('EventsRepublished', MetricUnit.Count, result.published);
    metrics.addMetric('EventsStillUnpublished', MetricUnit.Count, result.failed);
    return result;
  };
  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
