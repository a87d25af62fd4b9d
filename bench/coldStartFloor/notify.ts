// The AWS SDK clients notify constructs at cold start, and nothing else: what its cold start cannot go below.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function createSdkClients(env: Record<string, string | undefined>): unknown[] {
  const aws = { region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL };
  return [new SNSClient(aws), new SecretsManagerClient(aws), DynamoDBDocumentClient.from(new DynamoDBClient(aws))];
}
