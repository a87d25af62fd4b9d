import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';

export interface RegionClients {
  readonly s3: S3Client;
  readonly dynamodb: DynamoDBClient;
  readonly sqs: SQSClient;
  readonly sns: SNSClient;
  readonly secrets: SecretsManagerClient;
}

/** SDK clients per region against one endpoint (LocalStack, moto or AWS), created once each. */
export class AwsClients {
  private readonly byRegion = new Map<string, RegionClients>();

  constructor(readonly endpoint: string | undefined) {}

  region(region: string): RegionClients {
    let clients = this.byRegion.get(region);
    if (clients === undefined) {
      const config = clientConfig(region, this.endpoint);
      clients = {
        s3: new S3Client(config),
        dynamodb: new DynamoDBClient(config),
        sqs: new SQSClient(config),
        sns: new SNSClient(config),
        secrets: new SecretsManagerClient(config),
      };
      this.byRegion.set(region, clients);
    }
    return clients;
  }

  destroy(): void {
    for (const clients of this.byRegion.values()) for (const client of Object.values(clients)) (client as { destroy(): void }).destroy();
    this.byRegion.clear();
  }
}
