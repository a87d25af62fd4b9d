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
import { RegionAlarms } from './constructs/RegionAlarms.ts';
import { RegionalAnnouncements } from './constructs/RegionalAnnouncements.ts';
import { RegionalEndpoint } from './constructs/RegionalEndpoint.ts';
import { StatusPage } from './constructs/StatusPage.ts';
import { SyncPipeline } from './constructs/SyncPipeline.ts';
import { Verification } from './constructs/Verification.ts';
import { functionSettings } from './functionSettings.ts';
import type { GeoConfig } from './GeoConfig.ts';
import { HOLD_EVERYTHING } from '../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';
import { regionStackName } from './stackNames.ts';

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
  /** The standby control plane's topic, which the region's queues also subscribe to. */
  readonly standbyTopic?: { readonly region: string; readonly name: string };
}

// A secondary region's stack name: the dashboard finds the region's queues by it.
export { regionStackName };

/**
 * One secondary region, wired from one construct per concern: the change queue subscribed to
 * the control plane's topic, the regional announcements, the mirror store, the sync pipeline,
 * verification, onboarding (backfill), the regional Git endpoint, backups, alarms and the status
 * page. Each construct takes narrow props and adds its functions' environment and grants
 * together; each function's settings come from cdk/functionSettings.ts.
 */
export class RegionStack extends Stack {
  readonly changeQueue: ChangeQueue;
  readonly store: MirrorStore;
  readonly announcements: RegionalAnnouncements;
  readonly syncPipeline: SyncPipeline;
  readonly verification: Verification;
  readonly onboarding: Onboarding;
  readonly regionalEndpoint: RegionalEndpoint;
  readonly backups: Backups;
  readonly alarms: RegionAlarms;
  readonly statusPage: StatusPage;

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    const { config } = props;
    const timeout = Duration.seconds(config.syncTimeoutSeconds);
    const rule = config.selectiveSync[this.region] ?? HOLD_EVERYTHING;
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
      ...(props.standbyTopic === undefined ? {} : { standbyTopic: props.standbyTopic }),
      visibilityTimeout: timeout,
      maxReceiveCount: config.maxReceiveCount,
      selectiveSyncRule: rule,
      logicalIds: KEPT_LOGICAL_IDS.queue,
    });
    // Freshness and control-plane contact, recorded in this region as announcements arrive.
    this.announcements = new RegionalAnnouncements(this, 'Announcements', { topics: this.changeQueue.topics, registry: this.registry, settings: functionSettings.announce(config, this.region) });
    const shared = { queue: this.changeQueue, store: this.store, primary };
    this.syncPipeline = new SyncPipeline(this, 'SyncPipeline', {
      ...shared,
      settings: functionSettings.sync(config, this.region),
      timeout,
      memoryMiB: config.syncMemoryMiB,
      ephemeralStorageMiB: config.syncEphemeralStorageMiB,
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
    this.regionalEndpoint = new RegionalEndpoint(this, 'RegionalEndpoint', { store: this.store, settings: functionSettings.endpoint(config, this.region), localUrlPath: `/${this.region}` });
    this.backups = new Backups(this, 'Backups', {
      store: this.store,
      settings: functionSettings.backup(config),
      intervalMinutes: config.backupIntervalMinutes,
      tableBackupRetentionDays: config.tableBackupRetentionDays,
      vaultLogicalId: KEPT_LOGICAL_IDS.vault,
    });
    this.alarms = new RegionAlarms(this, 'Alarms', {
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      endpoint: this.endpoint,
      lagSloSeconds: config.replicationLagSloSeconds,
      backupIntervalMinutes: config.backupIntervalMinutes,
      ...(config.alarmTopicName === undefined ? {} : { alarmTopicName: config.alarmTopicName }),
    });
    this.statusPage = new StatusPage(this, 'StatusPage', {
      registry: this.registry,
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      settings: functionSettings.status(config, config.secondaryRegions.map((region) => ({ region, stackName: regionStackName(config.stackPrefix, region) }))),
    });

    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new CfnOutput(this, 'GitEndpointUrl', { value: this.regionalEndpoint.url.url, description: 'Clone from <GitEndpointUrl><repository-path>.git' });
    new CfnOutput(this, 'MirrorBucket', { value: this.bucket.bucketName });
    new CfnOutput(this, 'RegistryTable', { value: this.registry.tableName });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'SyncFunctionName', { value: this.sync.functionName });
    new CfnOutput(this, 'VerifyFunctionName', { value: this.verify.functionName });
    new CfnOutput(this, 'BackfillFunctionName', { value: this.backfill.functionName });
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
