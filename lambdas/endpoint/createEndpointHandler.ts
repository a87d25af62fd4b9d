import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { geoMetrics, METRIC, MetricUnit } from '../shared/metricNames.ts';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { Readable, Writable } from 'node:stream';
import * as z from 'zod';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import { GeoError, PrimaryUnavailableError } from '../shared/errors/index.ts';
import { PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import { errorResponse, jsonResponse } from '../shared/http/jsonResponse.ts';
import { PrimaryOverrideStore } from '../shared/primary/PrimaryOverride.ts';
import { Announcements } from '../shared/registry/Announcements.ts';
import { Registry } from '../shared/registry/Registry.ts';
import { S3ObjectStore } from '../shared/storage/S3ObjectStore.ts';
import { S3ObjectUrls } from '../shared/storage/S3ObjectUrls.ts';
import { AccessChecker } from './AccessChecker.ts';
import { MAX_STREAMED_PACK_BYTES, PACK_UPLOAD_PART_BYTES } from './limits.ts';
import { StoredPackUploads } from './PackUploads.ts';
import { parseGitRequest, type GitRequest } from './parseGitRequest.ts';
import { createRegionalLfsEndpoint, serveLfs } from './lfs/createRegionalLfsEndpoint.ts';
import { isLfsPath, parseLfsRequest } from './lfs/parseLfsRequest.ts';
import type { RegionalLfsEndpoint } from './lfs/RegionalLfsEndpoint.ts';
import { RegionalGitEndpoint } from './RegionalGitEndpoint.ts';
import { EndpointSettings } from './settings.ts';
import { USER_AGENTS } from '../shared/git/userAgents.ts';

// Everything a read consults lives in this region: registry, announcements, primary override, bucket.
const EndpointEnv = functionEnvSchema(['REGISTRY_TABLE', 'MIRROR_BUCKET', 'PACK_DOWNLOAD_BUCKET'], EndpointSettings).extend({
  /** Not configuration: Lambda's streaming limit (limits.ts); tests lower it. */
  MAX_PACK_BYTES: z.coerce.number().int().positive().default(MAX_STREAMED_PACK_BYTES),
});

/** A Function URL response whose body is streamed (RESPONSE_STREAM): text or a Node stream. */
export interface StreamedResult {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Readable;
}

/** What the Lambda runtime calls for a streaming function: it writes the response to `responseStream`. */
export type StreamingEndpointHandler = (event: APIGatewayProxyEventV2, responseStream: Writable, context: Context) => Promise<void>;

function bodyBytes(event: APIGatewayProxyEventV2): number {
  if (event.body === undefined) return 0;
  return event.isBase64Encoded ? Buffer.byteLength(event.body, 'base64') : Buffer.byteLength(event.body);
}

/**
 * Builds the regional `endpoint` Lambda: a Function URL in response-streaming mode (packs can
 * be far larger than a buffered response's 6 MB) that serves the region's mirrors to stock git
 * (protocol v2, shallow clones included, or dumb HTTP), and sends stale reads and all writes to the primary.
 */
export function createEndpointHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): StreamingEndpointHandler {
  const config = parseEnv(EndpointEnv, env, 'endpoint');
  const settings = config.GIT_GEO_SETTINGS;
  const aws = clientConfig(config.AWS_REGION, config.AWS_ENDPOINT_URL);
  const documents = (client: DynamoDBClient): DynamoDBDocumentClient =>
    DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  const logger = new Logger({ serviceName: 'git-geo-endpoint' });
  const metrics = geoMetrics(config.AWS_REGION);
  const [primaryUrl] = settings.primaryUrls;
  // Everything a read consults lives in this region: registry, announcements, primary override, bucket.
  const registryDb = documents(withHooks(new DynamoDBClient(aws), hooks));
  const registry = new Registry(registryDb, config.REGISTRY_TABLE);
  const announcements = new Announcements(registryDb, config.REGISTRY_TABLE);
  const s3 = withHooks(new S3Client(aws), hooks);
  const store = new S3ObjectStore(s3, config.MIRROR_BUCKET);
  // Signed with the function's own role: a URL reads only what the endpoint may read.
  const urls = settings.packUrlSeconds > 0 ? new S3ObjectUrls(s3, config.MIRROR_BUCKET, settings.packUrlSeconds) : undefined;
  // Built packs past Lambda's fast first 6 MB: by URL, from a bucket that expires them. A pre-signed
  // URL has the scheme of the S3 endpoint: https in AWS, an emulator's own locally.
  const urlScheme = config.AWS_ENDPOINT_URL === undefined ? 'https' : new URL(config.AWS_ENDPOINT_URL).protocol.slice(0, -1);
  const downloads = new S3ObjectStore(s3, config.PACK_DOWNLOAD_BUCKET, { partSizeBytes: PACK_UPLOAD_PART_BYTES, partConcurrency: 2 });
  const uploads = settings.packUrlSeconds > 0 ? new StoredPackUploads(downloads, new S3ObjectUrls(s3, config.PACK_DOWNLOAD_BUCKET, settings.packUrlSeconds), urlScheme) : undefined;
  const overrides = PrimaryOverrideStore.regional(registryDb, config.REGISTRY_TABLE, settings.primaryOverrideCacheSeconds * 1000);
  // One endpoint per primary URL: after `git-geo promote`, redirects and access checks go to the new primary.
  const endpoints = new Map<string, RegionalGitEndpoint>();
  const endpointFor = (url: string): RegionalGitEndpoint => {
    let endpoint = endpoints.get(url);
    if (endpoint !== undefined) return endpoint;
    // Anonymous: callers' own credentials are added per request, never ours.
    const primary = new PrimaryRemote({ baseUrl: url, timeoutMs: settings.primaryTimeoutSeconds * 1000, userAgent: USER_AGENTS.endpoint });
    endpoint = new RegionalGitEndpoint({
      registry,
      announcements,
      store,
      primary,
      ...(urls === undefined ? {} : { urls }),
      ...(uploads === undefined ? {} : { uploads }),
      access: new AccessChecker(primary, { allowedTtlMs: settings.accessCacheSeconds * 1000, deniedTtlMs: Math.min(settings.accessCacheSeconds, 10) * 1000 }),
      now: () => new Date(),
      settings: {
        region: config.AWS_REGION,
        primaryUrl: url,
        mode: settings.readMode,
        writePendingMs: settings.writePendingSeconds * 1000,
        anonymousTrustMs: settings.anonymousTrustSeconds * 1000,
        refNamespaces: settings.refNamespaces,
        maxPackBytes: config.MAX_PACK_BYTES,
        onControlPlaneLoss: settings.onControlPlaneLoss,
        controlPlaneLossMs: settings.controlPlaneLossSeconds * 1000,
        stalenessBudgetMs: settings.stalenessBudgetSeconds * 1000,
        packCacheBytes: settings.packCacheBytes,
        allowReachableSha1InWant: settings.allowReachableSha1InWant,
      },
    });
    endpoints.set(url, endpoint);
    return endpoint;
  };
  const lfsEndpoints = new Map<string, RegionalLfsEndpoint>();
  const lfsEndpointFor = (url: string): RegionalLfsEndpoint => {
    let lfs = lfsEndpoints.get(url);
    if (lfs === undefined) {
      lfs = createRegionalLfsEndpoint({
        s3,
        bucket: config.MIRROR_BUCKET,
        store,
        registry,
        primaryUrl: url,
        timeoutMs: settings.primaryTimeoutSeconds * 1000,
        accessCacheSeconds: settings.accessCacheSeconds,
        settings: { region: config.AWS_REGION, mode: settings.readMode, anonymousTrustMs: settings.anonymousTrustSeconds * 1000 },
      });
      lfsEndpoints.set(url, lfs);
    }
    return lfs;
  };

  const handle = async (event: APIGatewayProxyEventV2): Promise<StreamedResult> => {
    let request: GitRequest | undefined;
    try {
      const raw = {
        method: event.requestContext.http.method,
        rawPath: event.rawPath,
        rawQueryString: event.rawQueryString ?? '',
        headers: event.headers ?? {},
        bodyBytes: bodyBytes(event),
        ...(event.body === undefined ? {} : { body: Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') }),
      };
      if (isLfsPath(raw.rawPath)) return await serveLfs(lfsEndpointFor(await overrides.url(primaryUrl!)), parseLfsRequest(raw), { logger, metrics });
      request = parseGitRequest(raw);
      const endpoint = endpointFor(await overrides.url(primaryUrl!));
      const { outcome, ...response } = await endpoint.handle(request);
      // Never the headers: they carry the caller's credentials.
      logger.info('git request', { repository: request.repository, file: request.file, method: request.method, authenticated: request.authorization !== undefined, outcome, status: response.statusCode });
      metrics.addMetric(outcome.startsWith('served') ? 'ReadsServed' : outcome.startsWith('proxied') ? 'ReadsProxied' : outcome.startsWith('redirected:write') ? 'WritesRedirected' : outcome.startsWith('redirected') ? 'ReadsRedirected' : 'ReadsNotFound', MetricUnit.Count, 1);
      // Served from this region's copy, or sent to the primary (redirected, or answered from it), or neither.
      metrics.addMetric(outcome.startsWith('served') ? METRIC.requestsServedLocally : outcome.startsWith('redirected') || outcome.startsWith('proxied') ? METRIC.requestsRedirected : METRIC.requestsRefused, MetricUnit.Count, 1);
      return response;
    } catch (error) {
      const status = error instanceof GeoError ? error.status : 500;
      const context = { repository: request?.repository, file: request?.file, authenticated: request?.authorization !== undefined, status };
      if (error instanceof PrimaryUnavailableError) {
        logger.warn('primary unavailable for an access check', { ...context, error });
        metrics.addMetric('AccessChecksFailed', MetricUnit.Count, 1);
        metrics.addMetric(METRIC.requestsFailed, MetricUnit.Count, 1);
        return jsonResponse(503, { error: error.code, message: 'the primary could not be reached to check access; try again shortly' }) as StreamedResult;
      }
      if (status >= 500) logger.error('git request failed', { ...context, error: error as Error });
      else logger.info('git request refused', { ...context, code: (error as GeoError).code, reason: (error as Error).message });
      metrics.addMetric(status === 401 || status === 403 ? 'ReadsRefused' : status >= 500 ? 'RequestsFailed' : 'RequestsRejected', MetricUnit.Count, 1);
      metrics.addMetric(status >= 500 ? METRIC.requestsFailed : METRIC.requestsRefused, MetricUnit.Count, 1);
      const response = errorResponse(error) as StreamedResult;
      const extra: Record<string, string> = {};
      if (status === 401) extra['www-authenticate'] = 'Basic realm="git-geo"';
      if (status === 405 && error instanceof GeoError && typeof error.data.allow === 'string') extra.allow = error.data.allow;
      return { ...response, headers: { ...response.headers, ...extra } };
    }
  };

  const handler = middy(handle, { streamifyResponse: true }).use(injectLambdaContext(logger)).use(logMetrics(metrics));
  // middy's types describe buffered handlers; with streamifyResponse it is the runtime's streaming signature.
  return handler as unknown as StreamingEndpointHandler;
}
