import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { BatchWriteCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { RequestCounter } from '../../bench/RequestCounter.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import type { DeploymentStatus, RegionSource } from '../../lambdas/status/deploymentStatus.ts';
import { RegionClientCache } from '../../lambdas/status/RegionClientCache.ts';
import { serveStatus } from '../../lambdas/status/serveStatus.ts';
import { StatusCache, statusCacheMs } from '../../lambdas/status/StatusCache.ts';
import { createRegistryTable } from '../helpers/createRegistryTable.ts';

const REGIONS = ['eu-west-1', 'ap-southeast-2'];
const REPOSITORIES = 120;
const REFRESH_SECONDS = 15;
const RELOADS = 10;

/**
 * What a reload of the status page costs the regions, counted on the real clients against the
 * emulator: without the cache every reload reads every registry in full; with it, the reloads
 * (one after another, or many browsers at once) within statusCacheMs share one read.
 */
describe('status page requests per reload', () => {
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const counter = new RequestCounter();
  const sources: RegionSource[] = [];
  let clients: RegionClientCache;

  beforeAll(async () => {
    const suffix = randomBytes(4).toString('hex');
    for (const region of REGIONS) {
      const dynamo = new DynamoDBClient(clientConfig(region, endpoint));
      const sqs = new SQSClient(clientConfig(region, endpoint));
      const registryTable = `status-requests-${suffix}`;
      await createRegistryTable(dynamo, registryTable);
      const documents = DynamoDBDocumentClient.from(dynamo);
      const at = new Date().toISOString();
      for (let start = 0; start < REPOSITORIES; start += 25) {
        const items = Array.from({ length: Math.min(25, REPOSITORIES - start) }, (_, offset) => {
          const repository = `load/repo-${start + offset}`;
          return { PutRequest: { Item: { pk: repository, sk: 'git', repository, replicable: 'git', status: 'synced', attempts: 0, updatedAt: at, syncedSequence: 1, lastEventSequence: 1, lagMs: 1500, lastSyncedAt: at } } };
        });
        await documents.send(new BatchWriteCommand({ RequestItems: { [registryTable]: items } }));
      }
      const queue = await sqs.send(new CreateQueueCommand({ QueueName: `status-requests-${suffix}` }));
      const deadLetters = await sqs.send(new CreateQueueCommand({ QueueName: `status-requests-dlq-${suffix}` }));
      sources.push({ region, registryTable, queueUrl: queue.QueueUrl!, deadLetterQueueUrl: deadLetters.QueueUrl! });
      dynamo.destroy();
      sqs.destroy();
    }
    clients = new RegionClientCache(() => endpoint, { clientPlugins: [counter.plugin('status')] });
  });
  afterAll(() => clients?.destroy());

  const requests = (): number =>
    Object.values(counter.snapshot().status ?? {})
      .flatMap((operations) => Object.values(operations))
      .reduce((sum, count) => sum + count.requests, 0);

  async function reload(cache: StatusCache<DeploymentStatus>): Promise<string> {
    const response = await serveStatus(
      { method: 'GET', path: '/', query: new URLSearchParams(), basePath: '' },
      { sources: () => Promise.resolve(sources), clients, settings: { leaseSeconds: 900, lagSloSeconds: 60, backupIntervalMinutes: 60, timeoutMs: 10_000 }, refreshSeconds: REFRESH_SECONDS, cache },
    );
    expect(response.statusCode).toBe(200);
    return response.body;
  }

  it(`${RELOADS} reloads within the cache time cost one read of each region, as one reload does; past it, one more`, async () => {
    // What one reload costs when nothing is kept (a cache of 0 ms).
    counter.reset();
    const uncached = new StatusCache<DeploymentStatus>(0);
    for (let i = 0; i < RELOADS; i++) expect(await reload(uncached)).toMatch(new RegExp(`<dt>Repositories</dt><dd>${REPOSITORIES}</dd>`));
    const withoutCache = requests();
    const perRead = withoutCache / RELOADS;
    // Each region: its registry (one page here), its control item and two queue depths.
    expect(perRead).toBe(REGIONS.length * 4);

    let now = 1_000_000;
    const ttlMs = statusCacheMs(REFRESH_SECONDS);
    const cache = new StatusCache<DeploymentStatus>(ttlMs, () => now);
    counter.reset();
    for (let i = 0; i < RELOADS; i++) {
      expect(await reload(cache)).toMatch(new RegExp(`<dt>Repositories</dt><dd>${REPOSITORIES}</dd>`));
      now += 100;
    }
    // Many browsers at once wait for the same read.
    await Promise.all(Array.from({ length: RELOADS }, () => reload(cache)));
    const withCache = requests();
    expect(withCache).toBe(perRead);
    now += ttlMs;
    await reload(cache);
    expect(requests()).toBe(2 * perRead);
    process.stdout.write(
      `status page, ${REGIONS.length} regions of ${REPOSITORIES} repositories: ${perRead} AWS requests per reload without the cache; ${withCache} for ${2 * RELOADS} reloads within ${ttlMs / 1000} s with it\n`,
    );
  });
});
