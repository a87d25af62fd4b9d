import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import {
  findRepository,
  readDeploymentStatus,
  readRegionStatus,
  type DeploymentStatus,
  type RegionClients,
  type RegionSource,
  type RegionStatus,
  type RepositoryInRegion,
  type StatusSettings,
} from '../../lambdas/status/deploymentStatus.ts';
import { projectConfig } from '../commands/projectConfig.ts';
import type { RegionResources } from './regionResources.ts';

export { summarise, type FailureGroup, type RegionStatus } from '../../lambdas/status/deploymentStatus.ts';

/** Status settings from the configuration (the sync lease is the sync function's timeout). */
export function statusSettings(config: { syncTimeoutSeconds: number; replicationLagSloSeconds: number; backupIntervalMinutes: number }, timeoutMs = 5000): StatusSettings {
  return { leaseSeconds: config.syncTimeoutSeconds, lagSloSeconds: config.replicationLagSloSeconds, backupIntervalMinutes: config.backupIntervalMinutes, timeoutMs };
}

/** Clients per region, created on first use, for the CLI and `git-geo local`; `destroy` ends them. */
export class CachedRegionClients implements RegionClients {
  private readonly dynamo = new Map<string, DynamoDBDocumentClient>();
  private readonly queues = new Map<string, SQSClient>();

  constructor(private readonly endpointOf: (region: string) => string | undefined) {}

  documents(region: string): DynamoDBDocumentClient {
    let client = this.dynamo.get(region);
    if (client === undefined) {
      // One attempt: an unreachable region is reported as such, not retried for the page's whole timeout.
      client = DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientConfig(region, this.endpointOf(region)), maxAttempts: 1 }), { marshallOptions: { removeUndefinedValues: true } });
      this.dynamo.set(region, client);
    }
    return client;
  }

  sqs(region: string): SQSClient {
    let client = this.queues.get(region);
    if (client === undefined) {
      client = new SQSClient({ ...clientConfig(region, this.endpointOf(region)), maxAttempts: 1 });
      this.queues.set(region, client);
    }
    return client;
  }

  destroy(): void {
    for (const client of [...this.dynamo.values(), ...this.queues.values()]) client.destroy();
  }
}

const sourceOf = (resources: RegionResources): RegionSource => ({
  region: resources.region,
  registryTable: resources.registryTable,
  deadLetterQueueUrl: resources.deadLetterQueueUrl,
  queueUrl: resources.queueUrl,
});

async function withClients<T>(all: readonly RegionResources[], work: (clients: CachedRegionClients) => Promise<T>): Promise<T> {
  const endpoints = new Map(all.map((resources) => [resources.region, resources.awsEndpoint]));
  const clients = new CachedRegionClients((region) => endpoints.get(region));
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
