import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RegionalOverrideCopy } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import type { LocalRuntime } from './startLocalRuntime.ts';

/** Every secondary region's copy of the primary override in a local runtime (its registry table). */
export function regionalOverrideCopies(runtime: Pick<LocalRuntime, 'regions' | 'clients'>): RegionalOverrideCopy[] {
  return Object.entries(runtime.regions).map(([region, info]) => ({
    region,
    db: DynamoDBDocumentClient.from(runtime.clients.region(region).dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
    tableName: info.registryTable,
  }));
}
