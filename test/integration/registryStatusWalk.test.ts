import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { Registry, type StatusCursor } from '../../lambdas/shared/registry/Registry.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { createRegistryTable } from '../helpers/createRegistryTable.ts';

/** Walks of the status index (moto), resumed from a cursor as the backup's snapshot resumes after its deadline. */
describe('Registry walks of the status index', () => {
  let dynamo: DynamoDBClient;
  let registry: Registry;
  const tableName = `registry-walk-${randomBytes(4).toString('hex')}`;
  const repositories = ['walk/a', 'walk/b', 'walk/c', 'walk/d', 'walk/e'].map((path) => parseRepositoryPath(path));

  beforeAll(async () => {
    dynamo = new DynamoDBClient(clientConfig('eu-west-1', process.env.AWS_ENDPOINT_URL));
    await createRegistryTable(dynamo, tableName);
    registry = new Registry(DynamoDBDocumentClient.from(dynamo), tableName);
    // Pending, updated a minute apart: the index gives them back in this order.
    for (const [index, repository] of repositories.entries()) {
      await registry.recordRequested(repository, new Date(Date.UTC(2026, 0, 1, 0, index)).toISOString(), 'test');
    }
  });
  afterAll(async () => {
    await dynamo?.send(new DeleteTableCommand({ TableName: tableName })).catch(() => undefined);
    dynamo?.destroy();
  });

  const walk = async (entries: AsyncIterable<{ repository: string; cursor: StatusCursor }>): Promise<{ repository: string; cursor: StatusCursor }[]> => {
    const out: { repository: string; cursor: StatusCursor }[] = [];
    for await (const entry of entries) out.push(entry);
    return out;
  };

  it('withStatus gives every repository in the status, oldest update first, and one resumed from a cursor starts past it', async () => {
    const all = await walk(registry.withStatus('pending'));
    expect(all.map((entry) => entry.repository)).toEqual(repositories);
    const resumed = await walk(registry.withStatus('pending', { startKey: all[1]!.cursor.lastKey! }));
    expect(resumed.map((entry) => entry.repository)).toEqual(repositories.slice(2));
    expect(await walk(registry.withStatus('pending', { updatedBefore: new Date(Date.UTC(2026, 0, 1, 0, 2)).toISOString() }))).toHaveLength(2);
  });

  it('inStatuses resumes in the status of its cursor and goes on to the next', async () => {
    const first = await walk(registry.inStatuses(['pending', 'synced']));
    expect(first.map((entry) => entry.repository)).toEqual(repositories);
    const resumed = await walk(registry.inStatuses(['synced', 'pending'], first[3]!.cursor));
    expect(resumed.map((entry) => entry.repository)).toEqual(repositories.slice(4));
  });
});
