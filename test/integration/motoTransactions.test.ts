import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, DynamoDBDocumentClient, PutCommand, QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { createRegistryTable } from '../helpers/createRegistryTable.ts';

const FILLER_ITEMS = 500;
const WRITERS = 8;
const TRANSACTIONS = 4;

/**
 * The emulator the suite runs on (bin/local/motoServer.py) must not lose writes where AWS would
 * not: moto 5 alone restores its copy of a table when a transaction is cancelled, erasing writes
 * other requests made meanwhile. The event log cancels a transaction whenever a host's retry races
 * the first delivery's recording, so a write lost that way would be a recorded event lost.
 */
describe('DynamoDB on the suite\'s moto', () => {
  let db: DynamoDBDocumentClient;
  let dynamo: DynamoDBClient;
  const tableName = `moto-transactions-${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    dynamo = new DynamoDBClient(clientConfig('eu-west-1', process.env.AWS_ENDPOINT_URL));
    db = DynamoDBDocumentClient.from(dynamo);
    await createRegistryTable(dynamo, tableName);
    // A table big enough that moto's copy of it takes a while: writes land during a transaction.
    for (let start = 0; start < FILLER_ITEMS; start += 25) {
      const items = Array.from({ length: 25 }, (_, i) => ({ PutRequest: { Item: { pk: 'filler', sk: String(start + i).padStart(6, '0'), payload: 'x'.repeat(200) } } }));
      await db.send(new BatchWriteCommand({ RequestItems: { [tableName]: items } }));
    }
    await db.send(new PutCommand({ TableName: tableName, Item: { pk: 'taken', sk: 'id' } }));
  });
  afterAll(() => dynamo?.destroy());

  it('a cancelled transaction erases no write made while it ran', async () => {
    const cancelled = async (attempt: number): Promise<string> => {
      try {
        await db.send(
          new TransactWriteCommand({
            // Writes first, the failing condition last: moto applies the writes, then puts its copy back.
            TransactItems: [
              ...Array.from({ length: 99 }, (_, i) => ({ Put: { TableName: tableName, Item: { pk: 'never', sk: `${attempt}-${i}`, payload: 'y'.repeat(100) } } })),
              { Put: { TableName: tableName, Item: { pk: 'taken', sk: 'id' }, ConditionExpression: 'attribute_not_exists(pk)' } },
            ],
          }),
        );
        return 'committed';
      } catch (error) {
        return error instanceof TransactionCanceledException ? 'cancelled' : String(error);
      }
    };
    // Writers keep putting for as long as the transactions run, so some puts land while each one does.
    let running = true;
    let written = 0;
    const writer = async (id: number): Promise<void> => {
      for (let i = 0; running; i++) {
        await db.send(new PutCommand({ TableName: tableName, Item: { pk: 'concurrent', sk: `${id}-${i}` } }));
        written++;
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, id) => writer(id));
    const outcomes = await Promise.all(Array.from({ length: TRANSACTIONS }, (_, attempt) => cancelled(attempt)));
    running = false;
    await Promise.all(writers);
    expect(outcomes).toEqual(Array.from({ length: TRANSACTIONS }, () => 'cancelled'));

    const stored = await db.send(new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'concurrent' }, Select: 'COUNT' }));
    expect(stored.Count).toBe(written);
    const never = await db.send(new QueryCommand({ TableName: tableName, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'never' }, Select: 'COUNT' }));
    expect(never.Count).toBe(0);
  });
});
