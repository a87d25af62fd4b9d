import { GeoError } from '../shared/errors/GeoError.ts';
import { findRepository, readDeploymentStatus, type DeploymentStatus, type RegionClients, type RegionSource, type StatusSettings } from './deploymentStatus.ts';
import { renderStatusPage } from './renderStatusPage.ts';
import type { StatusCache } from './StatusCache.ts';

export interface StatusPageDependencies {
  /** The regions, in display order (a region whose resources cannot be found is passed with `unreachable`). */
  readonly sources: () => Promise<readonly (RegionSource | { readonly region: string; readonly unreachable: string })[]>;
  readonly clients: RegionClients;
  readonly settings: StatusSettings;
  readonly refreshSeconds: number;
  /** The assembled status of every region, shared by the requests of a few seconds (statusCacheMs). */
  readonly cache: StatusCache<DeploymentStatus>;
}

export interface StatusResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  // No script runs on the page; styles are inline.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/**
 * Answers the status page's requests, the same for the deployed function and `git-geo local`:
 * `<base>/` the page (`?repository=` adds that repository's state in every region),
 * `<base>/status.json` the same data as JSON. `path` is relative to the page's base.
 */
export async function serveStatus(request: { readonly method: string; readonly path: string; readonly query: URLSearchParams; readonly basePath: string }, deps: StatusPageDependencies): Promise<StatusResponse> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return { statusCode: 405, headers: { ...SECURITY_HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }, body: 'the status page only answers GET\n' };
  }
  const path = request.path.replace(/\/+$/, '');
  if (path !== '' && path !== '/status.json') {
    return { statusCode: 404, headers: { ...SECURITY_HEADERS, 'content-type': 'text/plain; charset=utf-8' }, body: `no such page; the status page is at ${request.basePath}/\n` };
  }
  const all = await deps.sources();
  const sources = all.filter((source): source is RegionSource => !('unreachable' in source));
  const deployment = await deps.cache.get(async () => {
    const status = await readDeploymentStatus(sources, deps.clients, deps.settings);
    const now = new Date().toISOString();
    // Keep the configured order; regions whose resources could not even be found are unreachable too.
    const regions = all.map(
      (source) =>
        status.regions.find((region) => region.region === source.region) ?? { region: source.region, health: 'unreachable' as const, reasons: ['unreachable' in source ? source.unreachable : 'not read'], checkedAt: now },
    );
    return { ...status, regions };
  });
  const repository = request.query.get('repository')?.trim();
  let search: { repository: string; results?: Awaited<ReturnType<typeof findRepository>>; error?: string } | undefined;
  if (repository) {
    try {
      const results = await findRepository(sources, deps.clients, repository, deps.settings.timeoutMs);
      const missing = all.filter((source) => 'unreachable' in source).map((source) => ({ region: source.region, unreachable: (source as { unreachable: string }).unreachable }));
      search = { repository, results: [...results, ...missing] };
    } catch (error) {
      if (!(error instanceof GeoError)) throw error;
      search = { repository, error: error.message };
    }
  }
  if (path === '/status.json') {
    return { statusCode: 200, headers: { ...SECURITY_HEADERS, 'content-type': 'application/json' }, body: JSON.stringify(search === undefined ? deployment : { ...deployment, search }) };
  }
  const body = renderStatusPage({ status: deployment, refreshSeconds: deps.refreshSeconds, path: `${request.basePath}/`, ...(search === undefined ? {} : { search }) });
  return { statusCode: 200, headers: { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' }, body };
}
