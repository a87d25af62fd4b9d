import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { clientConfig } from '../shared/aws/clientConfig.ts';
import { withHooks, type HandlerHooks } from '../shared/aws/HandlerHooks.ts';
import type { RegionClients } from './deploymentStatus.ts';

/** Clients per region, created on first use (the CLI, `git-geo local`, the status function); `destroy` ends them. */
export class RegionClientCache implements RegionClients {
  private readonly dynamo = new Map<string, DynamoDBDocumentClient>();
  private readonly queues = new Map<string, SQSClient>();

  constructor(
    private readonly endpointOf: (region: string) => string | undefined,
    private readonly hooks?: HandlerHooks,
  ) {}

  documents(region: string): DynamoDBDocumentClient {
    let client = this.dynamo.get(region);
    if (client === undefined) {
      // One attempt: an unreachable region is reported as such, not retried for the page's whole timeout.
      client = DynamoDBDocumentClient.from(withHooks(new DynamoDBClient({ ...clientConfig(region, this.endpointOf(region)), maxAttempts: 1 }), this.hooks), { marshallOptions: { removeUndefinedValues: true } });
      this.dynamo.set(region, client);
    }
    return client;
  }

  sqs(region: string): SQSClient {
    let client = this.queues.get(region);
    if (client === undefined) {
      client = withHooks(new SQSClient({ ...clientConfig(region, this.endpointOf(region)), maxAttempts: 1 }), this.hooks);
      this.queues.set(region, client);
    }
    return client;
  }

  destroy(): void {
    for (const client of [...this.dynamo.values(), ...this.queues.values()]) client.destroy();
  }
}

