import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { functionEnvSchema } from '../shared/config/functionEnv.ts';
import { parseEnv } from '../shared/config/parseEnv.ts';
import type { DeploymentStatus, RegionSource } from './deploymentStatus.ts';
import { RegionClientCache } from './RegionClientCache.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import { serveStatus } from './serveStatus.ts';
import { StatusSettings } from './settings.ts';
import { StatusCache, statusCacheMs } from './StatusCache.ts';

const StatusEnv = functionEnvSchema(['REGISTRY_TABLE', 'QUEUE_URL', 'DEAD_LETTER_QUEUE_URL'], StatusSettings);

export type StatusHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

/** How long another region's stack outputs are trusted. */
const OUTPUTS_TTL_MS = 5 * 60_000;
const TIMEOUT_MS = 5000;

/**
 * Builds the `status` Lambda of a region: the status page behind a Function URL (IAM auth). It
 * reads its own region from its environment and the other regions from their stacks' outputs, each
 * with a timeout, so the page of any region still answers when another region is down.
 */
export function createStatusHandler(env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks): StatusHandler {
  const config = parseEnv(StatusEnv, env, 'status');
  const settings = config.GIT_GEO_SETTINGS;
  const logger = new Logger({ serviceName: 'git-geo-status' });
  const clients = new RegionClientCache(() => config.AWS_ENDPOINT_URL, hooks);
  const own: RegionSource = { region: config.AWS_REGION, registryTable: config.REGISTRY_TABLE, queueUrl: config.QUEUE_URL, deadLetterQueueUrl: config.DEAD_LETTER_QUEUE_URL };
  const found = new Map<string, { source: RegionSource; until: number }>();
  const cache = new StatusCache<DeploymentStatus>(statusCacheMs(settings.statusPageRefreshSeconds));

  const sourceOf = async (region: string, stackName: string): Promise<RegionSource | { region: string; unreachable: string }> => {
    if (region === config.AWS_REGION) return own;
    const cached = found.get(region);
    if (cached !== undefined && cached.until > Date.now()) return cached.source;
    const cloudformation = withHooks(new CloudFormationClient({ ...clientConfig(region, config.AWS_ENDPOINT_URL), maxAttempts: 1 }), hooks);
    try {
      const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }), { abortSignal: AbortSignal.timeout(TIMEOUT_MS) });
      const outputs = new Map((Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
      const registryTable = outputs.get('RegistryTable');
      if (registryTable === undefined) return { region, unreachable: `stack ${stackName} has no RegistryTable output` };
      const source: RegionSource = { region, registryTable, ...optional('queueUrl', outputs.get('QueueUrl')), ...optional('deadLetterQueueUrl', outputs.get('DeadLetterQueueUrl')) };
      found.set(region, { source, until: Date.now() + OUTPUTS_TTL_MS });
      return source;
    } catch (error) {
      // The last known resources still serve: an outage of CloudFormation is not one of the region.
      if (cached !== undefined) return cached.source;
      return { region, unreachable: `could not read stack ${stackName}: ${(error as Error).message}` };
    } finally {
      cloudformation.destroy();
    }
  };
  const sources = async (): Promise<(RegionSource | { region: string; unreachable: string })[]> =>
    await Promise.all(settings.regionStacks.map(({ region, stackName }) => sourceOf(region, stackName)));

  const handle = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
    const response = await serveStatus(
      { method: event.requestContext.http.method, path: event.rawPath, query: new URLSearchParams(event.rawQueryString ?? ''), basePath: '' },
      {
        sources,
        clients,
        settings: { leaseSeconds: settings.syncTimeoutSeconds, lagSloSeconds: settings.replicationLagSloSeconds, backupIntervalMinutes: settings.backupIntervalMinutes, timeoutMs: TIMEOUT_MS },
        refreshSeconds: settings.statusPageRefreshSeconds,
        cache,
      },
    );
    logger.info('status page', { path: event.rawPath, status: response.statusCode });
    return response;
  };
  return middy(handle).use(injectLambdaContext(logger));
}

function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}
