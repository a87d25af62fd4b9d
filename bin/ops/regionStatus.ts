import { RegionClientCache } from '../../lambdas/status/RegionClientCache.ts';
import {
  findRepository,
  readDeploymentStatus,
  readRegionStatus,
  type DeploymentStatus,
  type RegionSource,
  type RegionStatus,
  type RepositoryInRegion,
  type StatusSettings,
} from '../../lambdas/status/deploymentStatus.ts';
import { projectConfig } from '../commands/projectConfig.ts';
import type { RegionResources } from './target.ts';

export { summarise, type FailureGroup, type RegionStatus } from '../../lambdas/status/deploymentStatus.ts';

/** Status settings from the configuration (the sync lease is the sync function's timeout). */
export function statusSettings(config: { syncTimeoutSeconds: number; replicationLagSloSeconds: number; backupIntervalMinutes: number }, timeoutMs = 5000): StatusSettings {
  return { leaseSeconds: config.syncTimeoutSeconds, lagSloSeconds: config.replicationLagSloSeconds, backupIntervalMinutes: config.backupIntervalMinutes, timeoutMs };
}

const sourceOf = (resources: RegionResources): RegionSource => ({
  region: resources.region,
  registryTable: resources.registryTable,
  deadLetterQueueUrl: resources.deadLetterQueueUrl,
  queueUrl: resources.queueUrl,
});

async function withClients<T>(all: readonly RegionResources[], work: (clients: RegionClientCache) => Promise<T>): Promise<T> {
  const endpoints = new Map(all.map((resources) => [resources.region, resources.awsEndpoint]));
  const clients = new RegionClientCache((region) => endpoints.get(region));
  try {
    return await work(clients);
  } finally {
    clients.destroy();
  }
}

/** Reads a region's registry, control record and dead-letter queue and summarises them (throws when it cannot). */
export async function regionStatus(resources: RegionResources, settings: StatusSettings = statusSettings(projectConfig())): Promise<RegionStatus> {
  return await withClients([resources], (clients) => readRegionStatus(sourceOf(resources), clients, settings));
}

/** Every region, each reported unreachable rather than failing the whole answer. */
export async function deploymentStatus(all: readonly RegionResources[], settings: StatusSettings): Promise<DeploymentStatus> {
  return await withClients(all, (clients) => readDeploymentStatus(all.map(sourceOf), clients, settings));
}

/** One repository's state in every region. */
export async function repositoryAcrossRegions(all: readonly RegionResources[], repository: string, timeoutMs: number): Promise<RepositoryInRegion[]> {
  return await withClients(all, (clients) => findRepository(all.map(sourceOf), clients, repository, timeoutMs));
}
