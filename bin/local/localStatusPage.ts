import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GeoConfig } from '../../cdk/GeoConfig.ts';
import { serveStatus } from '../../lambdas/status/serveStatus.ts';
import { RegionClientCache } from '../../lambdas/status/RegionClientCache.ts';
import type { DeploymentStatus } from '../../lambdas/status/deploymentStatus.ts';
import { StatusCache, statusCacheMs } from '../../lambdas/status/StatusCache.ts';
import { statusSettings } from '../ops/regionStatus.ts';

/** Where `git-geo local` serves the status page, on its own HTTP port. */
export const STATUS_PATH = '/status';

/**
 * The status page of a local runtime: the same page and data the deployed one serves
 * (lambdas/status/serveStatus.ts), read through the runtime's AWS endpoint, so a region taken
 * offline there shows as unreachable.
 */
export function localStatusPage(
  config: GeoConfig,
  awsEndpoint: string,
  regions: Readonly<Record<string, { readonly registryTable: string; readonly deadLetterQueueUrl: string; readonly queueUrl: string }>>,
): { handle: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>; close: () => void } {
  const clients = new RegionClientCache(() => awsEndpoint);
  // Unanswered reads give up well inside one refresh, so a region that hangs cannot stall the page.
  const settings = statusSettings(config, Math.min(5000, (config.statusPageRefreshSeconds * 1000) / 2));
  const known = config.secondaryRegions.map((region) => {
    const { registryTable, deadLetterQueueUrl, queueUrl } = regions[region]!;
    return { region, registryTable, deadLetterQueueUrl, queueUrl };
  });
  const sources = () => Promise.resolve(known);
  const cache = new StatusCache<DeploymentStatus>(statusCacheMs(config.statusPageRefreshSeconds));
  return {
    handle: async (req, res, url) => {
      const response = await serveStatus(
        { method: req.method ?? 'GET', path: url.pathname.slice(STATUS_PATH.length), query: url.searchParams, basePath: STATUS_PATH },
        { sources, clients, settings, refreshSeconds: config.statusPageRefreshSeconds, cache },
      );
      res.writeHead(response.statusCode, response.headers).end(req.method === 'HEAD' ? undefined : response.body);
    },
    close: () => clients.destroy(),
  };
}
