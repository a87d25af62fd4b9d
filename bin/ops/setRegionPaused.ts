import { GetEventSourceMappingCommand, LambdaClient, paginateListEventSourceMappings, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { userInfo } from 'node:os';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { RegionControl } from '../../lambdas/shared/registry/RegionControl.ts';
import type { RegionResources } from './target.ts';

export interface PauseResult {
  readonly region: string;
  readonly paused: boolean;
  readonly mappings: readonly { readonly uuid: string; readonly state: string }[];
}

const SETTLE_TIMEOUT_MS = 120_000;

/**
 * Pauses or resumes a region's replication. Pausing disables the sync function's SQS event
 * source mappings: Lambda stops receiving, and change events wait on the queue (none is
 * received, so none counts toward the dead-letter queue); running syncs finish. The region's
 * control record says paused, so its backfill and watchdog hold off too. Resuming enables the
 * mappings and the backlog drains, in order per repository. Waits until the mappings are
 * Disabled / Enabled. Queue retention (14 days) bounds a pause; past it, verification finds
 * what was missed and requests the syncs.
 */
export async function setRegionPaused(resources: RegionResources, paused: boolean): Promise<PauseResult> {
  const lambda = new LambdaClient(clientConfig(resources.region, resources.lambdaEndpoint ?? resources.awsEndpoint));
  const db = new DynamoDBClient(clientConfig(resources.region, resources.awsEndpoint));
  const control = new RegionControl(DynamoDBDocumentClient.from(db, { marshallOptions: { removeUndefinedValues: true } }), resources.registryTable);
  try {
    const uuids: string[] = [];
    for await (const page of paginateListEventSourceMappings({ client: lambda }, { FunctionName: resources.syncFunctionName })) {
      for (const mapping of page.EventSourceMappings ?? []) if (mapping.UUID) uuids.push(mapping.UUID);
    }
    if (uuids.length === 0) throw new Error(`${resources.syncFunctionName} has no event source mapping in ${resources.region}`);
    // Paused is recorded first, resumed last: the scheduled functions never run against a region half-way.
    if (paused) await control.setPaused(true, new Date().toISOString(), userInfo().username);
    for (const uuid of uuids) await lambda.send(new UpdateEventSourceMappingCommand({ UUID: uuid, Enabled: !paused }));
    const want = paused ? 'Disabled' : 'Enabled';
    const deadline = Date.now() + SETTLE_TIMEOUT_MS;
    const mappings: { uuid: string; state: string }[] = [];
    for (const uuid of uuids) {
      for (;;) {
        const { State = 'Unknown' } = await lambda.send(new GetEventSourceMappingCommand({ UUID: uuid }));
        if (State === want) {
          mappings.push({ uuid, state: State });
          break;
        }
        if (Date.now() > deadline) throw new Error(`event source mapping ${uuid} is still ${State}, not ${want}`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
    }
    if (!paused) await control.setPaused(false, new Date().toISOString(), userInfo().username);
    return { region: resources.region, paused, mappings };
  } finally {
    lambda.destroy();
    db.destroy();
  }
}
