import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { EventLog } from '../shared/eventlog/EventLog.ts';
import { ChangePublisher } from '../shared/events/ChangePublisher.ts';
import { ConflictError, GeoError, UntrustedHostError } from '../shared/errors/index.ts';
import { errorResponse, jsonResponse } from '../shared/http/jsonResponse.ts';
import { PrimaryOverrideStore } from '../shared/primary/PrimaryOverride.ts';
import { SecretReader } from '../shared/secrets/SecretReader.ts';
import { parseWebhook, type VerifiedWebhook } from './parseWebhook.ts';
import { recordChanges } from './recordChanges.ts';
import { NotifySettings } from './settings.ts';
import { primaryHostsOf } from './trustedHosts.ts';

const NotifyEnv = functionEnvSchema(['EVENT_LOG_TABLE', 'TOPIC_ARN'], NotifySettings);

export type NotifyHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

function requestBody(event: APIGatewayProxyEventV2): Buffer {
  if (event.body === undefined) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/**
 * Builds the `notify` Lambda: a Function URL that takes webhooks from any supported Git host,
 * records each change in the event log (once per delivery) and publishes it to the topic.
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
  const metrics = new Metrics({ namespace: 'GitGeo', serviceName: 'notify' });
  const overrides = new PrimaryOverrideStore(db, config.EVENT_LOG_TABLE, settings.primaryOverrideCacheSeconds * 1000);
  // A host promoted with `git-geo promote` is trusted in payloads as the configured ones are.
  const primaryHosts = async (): Promise<Set<string>> => {
    const override = await overrides.current();
    return primaryHostsOf(override === undefined ? settings.primaryUrls : [...settings.primaryUrls, override.url]);
  };
  const deps = { eventLog: new EventLog(db, config.EVENT_LOG_TABLE), publisher: new ChangePublisher(withHooks(new SNSClient(aws), hooks), config.TOPIC_ARN), now: () => new Date() };

  // Fail at cold start, not on the first webhook, when the secret is missing or empty.
  await secrets.webhookSecret(settings.webhookSecretName);

  const idempotency = new IdempotencyConfig({ eventKeyJmesPath: 'key', expiresAfterSeconds: 24 * 3600 });
  const recordOnce = makeIdempotent(
    (input: { key: string; webhook: VerifiedWebhook }) => recordChanges(deps, input.webhook),
    {
      persistenceStore: new DynamoDBPersistenceLayer({
        tableName: config.EVENT_LOG_TABLE,
        keyAttr: 'pk',
        sortKeyAttr: 'sk',
        staticPkValue: 'idempotency#notify',
        awsSdkV3Client: dynamo,
      }),
      config: idempotency,
    },
  );

  const handle = async (event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> => {
    idempotency.registerLambdaContext(context);
    try {
      if (event.requestContext.http.method !== 'POST') {
        return jsonResponse(405, { error: 'ERR_METHOD', message: 'webhooks are delivered with POST' });
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
        return jsonResponse(202, { accepted: 0, deliveryId: webhook.deliveryId, ignored: webhook.ignored, events: [] });
      }
      const recorded = await recordOnce({ key: `${webhook.source}:${webhook.deliveryId}`, webhook });
      logger.info('webhook recorded', {
        source: webhook.source,
        webhookEvent: webhook.eventName,
        deliveryId: webhook.deliveryId,
        events: recorded.events,
      });
      metrics.addMetric('ChangeEventsRecorded', MetricUnit.Count, recorded.events.length);
      return jsonResponse(202, { accepted: recorded.events.length, ...recorded });
    } catch (caught) {
      // A duplicate delivery racing the first one: the host should retry, and will then get the first answer.
      const error =
        (caught as Error).name === 'IdempotencyAlreadyInProgressError'
          ? new ConflictError('this delivery is being recorded right now; retry shortly', { cause: caught })
          : caught;
      const status = error instanceof GeoError ? error.status : 500;
      if (status >= 500) logger.error('webhook failed', { error: error as Error });
      else logger.warn('webhook rejected', { code: (error as GeoError).code, reason: (error as Error).message });
      metrics.addMetric(status >= 500 ? 'WebhooksFailed' : 'WebhooksRejected', MetricUnit.Count, 1);
      return errorResponse(error);
    }
  };

  return middy(handle).use(injectLambdaContext(logger)).use(logMetrics(metrics));
}
