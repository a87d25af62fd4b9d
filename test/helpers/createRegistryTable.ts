import { CreateTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { STATUS_INDEX } from '../../lambdas/shared/registry/statusIndex.ts';

/** A table shaped like a region's registry (`pk`, `sk`, the status index), on demand, for tests that bring their own. */
export async function createRegistryTable(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  await dynamo.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
        { AttributeName: STATUS_INDEX.partitionKey, AttributeType: 'S' },
        { AttributeName: STATUS_INDEX.sortKey, AttributeType: 'S' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: STATUS_INDEX.name,
          KeySchema: [
            { AttributeName: STATUS_INDEX.partitionKey, KeyType: 'HASH' },
            { AttributeName: STATUS_INDEX.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...STATUS_INDEX.projected] },
        },
      ],
    }),
  );
}
