import { Duration, Stack, type CfnElement } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { ChangeQueue } from '../../../cdk/constructs/ChangeQueue.ts';
import { MirrorStore } from '../../../cdk/constructs/MirrorStore.ts';
import { PrimaryResources } from '../../../cdk/constructs/PrimaryResources.ts';
import { SETTINGS_ENV } from '../../../lambdas/shared/config/functionEnv.ts';
import { testApp } from '../testApp.ts';

/** A bare stack in eu-west-1 (bundling skipped), as each construct test builds its construct in. */
export function bareStack(): Stack {
  return new Stack(testApp(), 'Bare', { env: { account: '123456789012', region: 'eu-west-1' } });
}

/** The constructs a regional function construct takes: the store, the queue and the primary's resources. */
export function regionalDependencies(stack: Stack): { store: MirrorStore; queue: ChangeQueue; primary: PrimaryResources } {
  return {
    store: new MirrorStore(stack, 'Store', { noncurrentVersionDays: 30, tombstoneRetentionDays: 90 }),
    queue: new ChangeQueue(stack, 'Queue', {
      primaryRegion: 'us-east-1',
      changeTopicName: 'GitGeo-Primary-ChangeEvents.fifo',
      visibilityTimeout: Duration.seconds(300),
      maxReceiveCount: 5,
      selectiveSyncRule: { include: [], exclude: [] },
    }),
    primary: new PrimaryResources(stack, 'Primary', { primaryRegion: 'us-east-1', eventLogTableName: 'GitGeo-Primary-EventLog' }),
  };
}

export function logicalId(construct: Construct): string {
  return Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
}

interface FunctionResource {
  readonly Properties: { readonly Environment: { readonly Variables: Record<string, unknown> } };
}

/** A function's environment variables in `template`. */
export function environmentOf(template: Template, functionId: string): Record<string, unknown> {
  return (template.toJSON().Resources[functionId] as FunctionResource).Properties.Environment.Variables;
}

/** A function's settings (GIT_GEO_SETTINGS), parsed. */
export function settingsOf(template: Template, functionId: string): Record<string, unknown> {
  return JSON.parse(environmentOf(template, functionId)[SETTINGS_ENV] as string) as Record<string, unknown>;
}
