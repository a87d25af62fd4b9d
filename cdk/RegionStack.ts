import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Rule } from 'aws-cdk-lib/aws-events';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { Backups } from './constructs/Backups.ts';
import { ChangeQueue } from './constructs/ChangeQueue.ts';
import type { GeoFunction } from './constructs/GeoFunction.ts';
import { MirrorStore } from './constructs/MirrorStore.ts';
import { Onboarding } from './constructs/Onboarding.ts';
import { PrimaryResources } from './constructs/PrimaryResources.ts';
import { RegionalEndpoint } from './constructs/RegionalEndpoint.ts';
import { SyncPipeline } from './constructs/SyncPipeline.ts';
import { Verification } from './constructs/Verification.ts';
import { functionSettings } from './functionSettings.ts';
import type { GeoConfig } from './GeoConfig.ts';
import { HOLD_EVERYTHING } from '../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';

/** The stateful resources keep the logical ids they had before the constructs: an upgrade replaces none of them. */
const KEPT_LOGICAL_IDS = {
  store: { accessLogs: 'AccessLogs8B620ECA', bucket: 'MirrorsAD121086', registry: 'Registry4DB9CCA5' },
  queue: { queue: 'ChangeEvents05658DD8', deadLetterQueue: 'ChangeEventsDeadLetters70F2FB9D' },
  vault: 'RegistryBackupsVaultA4B76048',
} as const;

export interface RegionStackProps extends StackProps {
  readonly config: GeoConfig;
  /** Name of the primary's FIFO topic (in the primary region, same account). */
  readonly changeTopicName: string;
  /** Name of the primary's event log table (in the primary region, same account). */
  readonly eventLogTableName: string;
}

/**
 * One secondary region, wired from one construct per concern: the change queue subscribed to
 * the primary's topic, the mirror store, the sync pipeline, verification, onboarding
 * (backfill), the regional Git endpoint and backups. Each construct takes narrow props and
 * adds its functions' environment and grants together; each function's settings come from
 * cdk/functionSettings.ts.
 */
export class RegionStack extends Stack {
  readonly changeQueue: ChangeQueue;
  readonly store: MirrorStore;
  readonly syncPipeline: SyncPipeline;
  readonly verification: Verification;
  readonly onboarding: Onboarding;
  readonly regionalEndpoint: RegionalEndpoint;
  readonly backups: Backups;

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    const { config } = props;
    const timeout = Duration.seconds(config.syncTimeoutSeconds);
    const primary = new PrimaryResources(this, 'Primary', { primaryRegion: config.primaryRegion, eventLogTableName: props.eventLogTableName });

    this.store = new MirrorStore(this, 'MirrorStore', {
      noncurrentVersionDays: config.noncurrentVersionDays,
      tombstoneRetentionDays: config.tombstoneRetentionDays,
      ...(config.mirrorObjectLockDays === undefined ? {} : { objectLockDays: config.mirrorObjectLockDays }),
      logicalIds: KEPT_LOGICAL_IDS.store,
    });
    this.changeQueue = new ChangeQueue(this, 'ChangeQueue', {
      primaryRegion: config.primaryRegion,
      changeTopicName: props.changeTopicName,
      visibilityTimeout: timeout,
      maxReceiveCount: config.maxReceiveCount,
      selectiveSyncRule: config.selectiveSync[this.region] ?? HOLD_EVERYTHING,
      logicalIds: KEPT_LOGICAL_IDS.queue,
    });
    const shared = { queue: this.changeQueue, store: this.store, primary };
    this.syncPipeline = new SyncPipeline(this, 'SyncPipeline', {
      ...shared,
      settings: functionSettings.sync(config, this.region),
      timeout,
      memoryMiB: config.syncMemoryMiB,
      batchSize: config.syncBatchSize,
      maxConcurrency: config.syncMaxConcurrency,
    });
    this.verification = new Verification(this, 'Verification', {
      ...shared,
      settings: functionSettings.verify(config),
      memoryMiB: config.syncMemoryMiB,
      scheduleMinutes: config.verifyScheduleMinutes,
    });
    this.onboarding = new Onboarding(this, 'Onboarding', { ...shared, settings: functionSettings.backfill(config, this.region) });
    this.regionalEndpoint = new RegionalEndpoint(this, 'RegionalEndpoint', {
      store: this.store,
      primary,
      settings: functionSettings.endpoint(config, this.region),
      localUrlPath: `/${this.region}`,
    });
    this.backups = new Backups(this, 'Backups', {
      store: this.store,
      settings: functionSettings.backup(config),
      intervalMinutes: config.backupIntervalMinutes,
      tableBackupRetentionDays: config.tableBackupRetentionDays,
      vaultLogicalId: KEPT_LOGICAL_IDS.vault,
    });

    new CfnOutput(this, 'GitEndpointUrl', { value: this.regionalEndpoint.url.url, description: 'Clone from <GitEndpointUrl><repository-path>.git' });
    new CfnOutput(this, 'MirrorBucket', { value: this.store.bucket.bucketName });
    new CfnOutput(this, 'RegistryTable', { value: this.store.registry.tableName });
    new CfnOutput(this, 'QueueUrl', { value: this.changeQueue.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.changeQueue.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'SyncFunctionName', { value: this.syncPipeline.function.functionName });
    new CfnOutput(this, 'VerifyFunctionName', { value: this.verification.function.functionName });
    new CfnOutput(this, 'BackfillFunctionName', { value: this.onboarding.function.functionName });
  }

  // Shorthands the tests and tools use.
  get queue(): Queue {
    return this.changeQueue.queue;
  }
  get deadLetterQueue(): Queue {
    return this.changeQueue.deadLetterQueue;
  }
  get bucket(): Bucket {
    return this.store.bucket;
  }
  get registry(): Table {
    return this.store.registry;
  }
  get sync(): GeoFunction {
    return this.syncPipeline.function;
  }
  get verify(): GeoFunction {
    return this.verification.function;
  }
  get backfill(): GeoFunction {
    return this.onboarding.function;
  }
  get endpoint(): GeoFunction {
    return this.regionalEndpoint.function;
  }
  get backup(): GeoFunction {
    return this.backups.function;
  }
  get verifySchedule(): Rule {
    return this.verification.verifySchedule;
  }
  get watchdogSchedule(): Rule {
    return this.verification.watchdogSchedule;
  }
  get backupSchedule(): Rule {
    return this.backups.schedule;
  }
}
