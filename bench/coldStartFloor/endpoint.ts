// The AWS SDK clients the endpoint constructs at cold start, and nothing else: what its cold start cannot go below.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export function createSdkClients(env: Record<string, string | undefined>): unknown[] {
  const aws = { region: env.AWS_REGION, endpoint: env.AWS_ENDPOINT_URL };
  return [new S3Client(aws), DynamoDBDocumentClient.from(new DynamoDBClient(aws))];
}
