import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { geoMetrics, METRIC, MetricUnit } from '../shared/metricNames.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { EventLog } from '../shared/eventlog/EventLog.ts';
import { ChangePublisher } from '../shared/events/ChangePublisher.ts';
import { BusyError, ConfigurationError, GeoError, RateLimitedError, UntrustedHostError } from '../shared/errors/index.ts';
import type { ChangeEvent } from '../shared/events/ChangeEvent.ts';
import { errorResponse, jsonResponse } from '../shared/http/jsonResponse.ts';
import { PrimaryOverrideStore } from '../shared/primary/PrimaryOverride.ts';
import { SecretReader } from '../shared/secrets/SecretReader.ts';
import { parseWebhook, type VerifiedWebhook } from './parseWebhook.ts';
import { publishRecorded, recordChanges } from './recordChanges.ts';
import { signedContentKey } from './replayGuard.ts';
import { NotifySettings } from './settings.ts';
import { primaryHostsOf } from './trustedHosts.ts';

const NotifyEnv = functionEnvSchema(['EVENT_LOG_TABLE', 'TOPIC_ARN'], NotifySettings);

/** What the Lambda runtime calls for a streaming function (RESPONSE_STREAM Function URL). */
export type NotifyHandler = (event: APIGatewayProxyEventV2, responseStream: Writable, context: Context) => Promise<void>;

interface AwsLambdaStreaming {
  streamifyResponse<T extends object>(handler: T): T;
  HttpResponseStream: { from(stream: Writable, prelude: Record<string, unknown>): Writable };
}

/** The answer, and what to do once the host has it. */
interface Answered {
  readonly response: APIGatewayProxyStructuredResultV2;
  /** Changes to publish once the host has its answer. */
  readonly unpublished: readonly ChangeEvent[];
}

/** What a throttled delivery is told to wait before retrying. */
const RETRY_AFTER_SECONDS = 5;
/**
 * The answer comes this long after the request reached the function URL at the latest, whatever
 * is still under way (GitHub gives up on a delivery after 10 s).
 */
const ANSWER_WITHIN_MS = 8000;
/** And this long before the function's own timeout, so the function URL never answers 502 for it. */
const TIMEOUT_MARGIN_MS = 2000;

/**
 * When the answer is due: ANSWER_WITHIN_MS after the request reached the function URL (its
 * timeEpoch, so a cold start counts; the handler's entry when that time is missing or implausible),
 * and never later than TIMEOUT_MARGIN_MS before the invocation times out.
 */
export function answerDeadline(event: Pick<APIGatewayProxyEventV2, 'requestContext'>, context: Pick<Context, 'getRemainingTimeInMillis'>, entered: number): number {
  const received = event.requestContext.timeEpoch;
  const since = Number.isFinite(received) && received <= entered && received > entered - ANSWER_WITHIN_MS * 10 ? received : entered;
  return Math.min(since + ANSWER_WITHIN_MS, entered + context.getRemainingTimeInMillis() - TIMEOUT_MARGIN_MS);
}

function requestBody(event: APIGatewayProxyEventV2): Buffer {
  if (event.body === undefined) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/**
 * Builds the `notify` Lambda: a streaming Function URL that takes webhooks from any supported Git
 * host, records each change in the event log (once per delivery, one write per change), answers,
 * and then publishes the changes to the topic.
 * Configuration and the webhook secret are checked here, at cold start.
 */
export async function createNotifyHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): Promise<NotifyHandler> {
  const config = parseEnv(NotifyEnv, env, 'notify');
  const settings = config.GIT_GEO_SETTINGS;
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const dynamo = withHooks(new DynamoDBClient(aws), hooks);
  const db = DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
  const secrets = new SecretReader(withHooks(new SecretsManagerClient(aws), hooks));
  const logger = new Logger({ serviceName: 'git-geo-notify' });
  const metrics = geoMetrics(config.AWS_REGION);
  const overrides = new PrimaryOverrideStore(db, config.EVENT_LOG_TABLE, settings.primaryOverrideCacheSeconds * 1000);
  // A host promoted with `git-geo promote` is trusted in payloads as the configured ones are.
  const primaryHosts = async (): Promise<Set<string>> => {
    const override = await overrides.current();
    return primaryHostsOf(override === undefined ? settings.primaryUrls : [...settings.primaryUrls, override.url]);
  };
  const deps = { eventLog: new EventLog(db, config.EVENT_LOG_TABLE), publisher: new ChangePublisher(withHooks(new SNSClient(aws), hooks), config.TOPIC_ARN), now: () => new Date() };

  // Fail at cold start, not on the first webhook, when the secret is missing or empty.
  await secrets.webhookSecret(settings.webhookSecretName);

  const none: readonly ChangeEvent[] = [];
  const handle = async (event: APIGatewayProxyEventV2): Promise<Answered> => {
    const answer = (response: APIGatewayProxyStructuredResultV2, unpublished: Answered['unpublished'] = none): Answered => ({ response, unpublished });
    try {
      if (event.requestContext.http.method !== 'POST') {
        return answer(jsonResponse(405, { error: 'ERR_METHOD', message: 'webhooks are delivered with POST' }));
      }
      const request = { headers: event.headers, body: requestBody(event) };
      const options = { secret: await secrets.webhookSecret(settings.webhookSecretName), maxBodyBytes: settings.maxWebhookBytes, now: deps.now };
      let webhook: VerifiedWebhook;
      try {
        webhook = parseWebhook(request, { ...options, primaryHosts: await primaryHosts() });
      } catch (error) {
        if (!(error instanceof UntrustedHostError)) throw error;
        // Just after `git-geo promote`, the cached override may predate the new host: read it again once.
        overrides.invalidate();
        webhook = parseWebhook(request, { ...options, primaryHosts: await primaryHosts() });
      }
      if (webhook.ignored !== undefined) {
        // Authenticated, but nothing to replicate (a ping, an issue): accepted, so the host keeps the hook enabled.
        logger.info('webhook ignored', { source: webhook.source, webhookEvent: webhook.eventName, deliveryId: webhook.deliveryId, reason: webhook.ignored });
        metrics.addMetric('WebhooksIgnored', MetricUnit.Count, 1);
        return answer(jsonResponse(202, { accepted: 0, deliveryId: webhook.deliveryId, ignored: webhook.ignored, events: [] }));
      }
      // Each change's own conditional write (keyed by its signed content) is what makes a retried or replayed delivery harmless.
      const { unpublished, ...recorded } = await recordChanges(deps, webhook, {
        contentKey: signedContentKey(webhook.source, request),
        replayWindowSeconds: settings.webhookReplayWindowSeconds,
        maxEventsPerRepositoryPerSecond: settings.maxEventsPerRepositoryPerSecond,
      });
      if (recorded.replayOf !== undefined) {
        // The same signed content under another delivery id: already recorded, so accepted and not recorded again.
        logger.warn('webhook replayed: its signed content was recorded from another delivery', { source: webhook.source, deliveryId: webhook.deliveryId, replayOf: recorded.replayOf });
        metrics.addMetric('WebhookReplaysIgnored', MetricUnit.Count, 1);
        return answer(jsonResponse(200, { accepted: 0, deliveryId: webhook.deliveryId, replayOf: recorded.replayOf, events: recorded.events }));
      }
      logger.info('webhook recorded', {
        source: webhook.source,
        webhookEvent: webhook.eventName,
        deliveryId: webhook.deliveryId,
        events: recorded.events,
      });
      metrics.addMetric('ChangeEventsRecorded', MetricUnit.Count, recorded.events.length);
      metrics.addMetric(METRIC.eventsReceived, MetricUnit.Count, recorded.events.length);
      return answer(jsonResponse(202, { accepted: recorded.events.length, ...recorded }), unpublished);
    } catch (caught) {
      // DynamoDB throttling is back-pressure: a quick 503 with Retry-After, so the host comes back.
      const error =
        (caught as Error).name === 'ProvisionedThroughputExceededException' || (caught as Error).name === 'ThrottlingException' || (caught as Error).name === 'RequestLimitExceeded'
          ? new BusyError('the event log is throttling writes; retry the delivery', RETRY_AFTER_SECONDS, { cause: caught })
          : caught;
      const status = error instanceof GeoError ? error.status : 500;
      if (error instanceof RateLimitedError) metrics.addMetric('WebhooksRateLimited', MetricUnit.Count, 1);
      if (status >= 500) logger.error('webhook failed', { error: error as Error });
      else logger.warn('webhook rejected', { code: (error as GeoError).code, reason: (error as Error).message });
      metrics.addMetric(status >= 500 ? 'WebhooksFailed' : 'WebhooksRejected', MetricUnit.Count, 1);
      return answer(errorResponse(error));
    }
  };
  const answered = middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));

  // Publishing happens after the host has its answer: the answer waits for one write per change.
  const afterAnswer = async (unpublished: readonly ChangeEvent[]): Promise<void> => {
    const failed = await publishRecorded(deps, unpublished, (event, error) =>
      logger.warn('recorded change not published yet; the republisher will', { repository: event.repository, sequence: event.sequence, error: error as Error }),
    );
    metrics.addMetric('ChangeEventsPublished', MetricUnit.Count, unpublished.length - failed);
    if (failed > 0) metrics.addMetric('ChangeEventsPublishDeferred', MetricUnit.Count, failed);
    metrics.publishStoredMetrics();
  };

  const runtime = (globalThis as { awslambda?: AwsLambdaStreaming }).awslambda;
  if (runtime === undefined) throw new ConfigurationError('notify streams its answers: it needs the Lambda Node.js runtime (awslambda.streamifyResponse)');
  const streaming = async (event: APIGatewayProxyEventV2, responseStream: Writable, context: Context): Promise<void> => {
    const deadline = answerDeadline(event, context, Date.now());
    const handling = answered(event, context);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
    });
    // Everything before the answer is bounded (the secret, the primary override, the recording): never a timeout.
    const first = await Promise.race([handling, late]).finally(() => clearTimeout(timer));
    let response: APIGatewayProxyStructuredResultV2;
    if (first === 'late') {
      // The host is told to retry; this invocation goes on, and the retry finds what it recorded.
      logger.warn('webhook not handled by its answer deadline; answered 503', { deadline: new Date(deadline).toISOString() });
      metrics.addMetric('WebhooksAnsweredLate', MetricUnit.Count, 1);
      response = errorResponse(new BusyError('the webhook is still being handled; retry the delivery', RETRY_AFTER_SECONDS));
    } else {
      response = first.response;
    }
    const { body = '', ...prelude } = response;
    const stream = runtime.HttpResponseStream.from(responseStream, prelude);
    stream.end(body);
    await finished(stream);
    // handle answers every failure as a response, so this never rejects.
    const { unpublished } = first === 'late' ? await handling : first;
    if (unpublished.length > 0) await afterAnswer(unpublished);
  };
  return runtime.streamifyResponse(streaming);
}
