import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { PrimaryRemote } from '../../shared/git/PrimaryRemote.ts';
import { LfsApi } from '../../shared/lfs/LfsApi.ts';
import type { Registry } from '../../shared/registry/Registry.ts';
import type { ObjectStore } from '../../shared/storage/ObjectStore.ts';
import { AccessChecker } from '../AccessChecker.ts';
import type { StreamedResult } from '../createEndpointHandler.ts';
import type { LfsRequest } from './parseLfsRequest.ts';
import { RegionalLfsEndpoint, type LfsEndpointDependencies } from './RegionalLfsEndpoint.ts';
import { USER_AGENTS } from '../../shared/git/userAgents.ts';

export interface RegionalLfsEndpointOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly store: ObjectStore;
  readonly registry: Pick<Registry, 'get'>;
  readonly primaryUrl: string;
  readonly timeoutMs: number;
  readonly accessCacheSeconds: number;
  readonly settings: LfsEndpointDependencies['settings'];
}

/** The endpoint's LFS API for one primary URL: pre-signed bucket URLs, and the primary asked as each caller. */
export function createRegionalLfsEndpoint(options: RegionalLfsEndpointOptions): RegionalLfsEndpoint {
  const remote = new PrimaryRemote({ baseUrl: options.primaryUrl, timeoutMs: options.timeoutMs, userAgent: USER_AGENTS.endpoint });
  return new RegionalLfsEndpoint({
    registry: options.registry,
    store: options.store,
    downloadUrl: (key, expiresIn) => getSignedUrl(options.s3, new GetObjectCommand({ Bucket: options.bucket, Key: key }), { expiresIn }),
    primary: new LfsApi({ baseUrl: options.primaryUrl, timeoutMs: options.timeoutMs, userAgent: USER_AGENTS.endpoint }),
    access: new AccessChecker(remote, { allowedTtlMs: options.accessCacheSeconds * 1000, deniedTtlMs: Math.min(options.accessCacheSeconds, 10) * 1000 }),
    now: () => new Date(),
    settings: options.settings,
  });
}

/** Answers one LFS API request and logs it without its headers (they carry credentials). */
export async function serveLfs(endpoint: RegionalLfsEndpoint, request: LfsRequest, observe: { logger: Logger; metrics: Metrics }): Promise<StreamedResult> {
  const { outcome, ...response } = await endpoint.handle(request);
  observe.logger.info('lfs request', { repository: request.repository, path: request.subpath, method: request.method, authenticated: request.authorization !== undefined, outcome, status: response.statusCode });
  observe.metrics.addMetric(outcome.startsWith('served') ? 'LfsBatchesServed' : outcome.startsWith('relayed') ? 'LfsRequestsRelayed' : 'LfsRequestsRefused', MetricUnit.Count, 1);
  return response;
}
