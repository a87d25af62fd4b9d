import { ArnFormat, CfnOutput, Duration, Size, Stack, Validations, type CfnResource, type StackProps } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, InvokeMode } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Bucket, ObjectLockRetention } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { GeoFunction } from './constructs/GeoFunction.ts';
import { RegionAlarms } from './constructs/RegionAlarms.ts';
import { StatusPage } from './constructs/StatusPage.ts';
import { grantOnTableOnly, REGISTRY_READ_WRITE_ACTIONS, RegistryStatusIndex } from './constructs/RegistryStatusIndex.ts';
import { TableBackupPlan } from './constructs/TableBackupPlan.ts';
import { grantLfsObjectWrites } from './constructs/grantLfsObjectWrites.ts';
import { grantMirrorAccess } from './constructs/grantMirrorAccess.ts';
import { NONCURRENT_VERSIONS, SECURE_BUCKET, SECURE_TABLE } from './constructs/secureDefaults.ts';
import type { GeoConfig } from './GeoConfig.ts';
import { TOMBSTONE_PREFIX } from '../lambdas/sync/tombstonePrefix.ts';
import { VERIFIED_PACKS_PREFIX } from '../lambdas/shared/git/verifyMirror.ts';
import { REGION_CONTROL_KEY } from '../lambdas/shared/registry/RegionControl.ts';
import { HOLD_EVERYTHING } from '../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';
import { RegionalAnnouncements, syncFilterPolicy } from './constructs/RegionalAnnouncements.ts';
import { regionStackName } from './stackNames.ts';

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

/** Lambda streams responses up to 200 MB: a bigger pack goes by pre-signed URL (packfile-uris) or fails clearly. */
const MAX_STREAMED_PACK_BYTES = 190 * 1024 * 1024;
/** /tmp of an endpoint instance, where it keeps packs to read objects from (memory stays bounded). */
const ENDPOINT_EPHEMERAL_MIB = 4096;

/**
 * One secondary region: a FIFO queue (with its dead-letter queue) subscribed across
 * regions to the primary's topic, the mirror bucket, the registry, the `sync` Lambda,
 * and the `endpoint` Lambda that serves the region's copies to Git clients.
 */
export class RegionStack extends Stack {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly bucket: Bucket;
  readonly registry: Table;
  readonly sync: GeoFunction;
  readonly endpoint: GeoFunction;
  readonly backup: GeoFunction;
  readonly backupSchedule: Rule;
  readonly verify: GeoFunction;
  readonly verifySchedule: Rule;
  readonly watchdogSchedule: Rule;
  readonly backfill?: GeoFunction;
  readonly alarms: RegionAlarms;
  readonly announcements: RegionalAnnouncements;

  constructor(scope: Construct, id: string, props: RegionStackProps) {
    super(scope, id, props);
    const { config } = props;
    const primaryRegion = config.primaryRegion;

    const accessLogs = new Bucket(this, 'AccessLogs', {
      ...SECURE_BUCKET,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    });
    this.bucket = new Bucket(this, 'Mirrors', {
      ...SECURE_BUCKET,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'mirrors/',
      // Immutability for snapshots and packs: versions cannot be deleted or overwritten before the period ends.
      ...(config.mirrorObjectLockDays === undefined
        ? {}
        : { objectLockEnabled: true, objectLockDefaultRetention: ObjectLockRetention.governance(Duration.days(config.mirrorObjectLockDays)) }),
      lifecycleRules: [
        ...(NONCURRENT_VERSIONS(config.noncurrentVersionDays) ?? []),
        { id: 'expire-tombstones', prefix: TOMBSTONE_PREFIX, expiration: Duration.days(config.tombstoneRetentionDays) },
      ],
    });

    this.registry = new Table(this, 'Registry', { ...SECURE_TABLE });
    // Besides PITR: daily AWS Backup recovery points, kept apart from the table.
    new TableBackupPlan(this, 'RegistryBackups', { tables: [this.registry], retentionDays: config.tableBackupRetentionDays });
    const visibilityTimeout = Duration.seconds(config.syncTimeoutSeconds);
    this.deadLetterQueue = new Queue(this, 'ChangeEventsDeadLetters', {
      fifo: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'ChangeEvents', {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout,
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.maxReceiveCount },
    });

    const topic = Topic.fromTopicAttributes(this, 'PrimaryChangeEvents', {
      topicArn: this.formatArn({ service: 'sns', region: primaryRegion, resource: props.changeTopicName }),
    });
    // Selective sync at fan-out: events of repositories this region does not hold never reach its queue.
    const rule = config.selectiveSync[this.region] ?? HOLD_EVERYTHING;
    const topics = [topic];
    if (props.standbyTopic !== undefined) {
      topics.push(Topic.fromTopicAttributes(this, 'StandbyChangeEvents', { topicArn: this.formatArn({ service: 'sns', region: props.standbyTopic.region, resource: props.standbyTopic.name }) }));
    }
    for (const source of topics) source.addSubscription(new SqsSubscription(this.queue, { rawMessageDelivery: true, filterPolicy: syncFilterPolicy(rule) }));
    // Freshness and control-plane contact, recorded in this region as announcements arrive.
    this.announcements = new RegionalAnnouncements(this, 'Announcements', { topics, registry: this.registry, rule, primaryRegion });

    this.sync = new GeoFunction(this, 'Sync', {
      entry: 'lambdas/sync/index.ts',
      handlerFactory: 'lambdas/sync/createSyncHandler.ts#createSyncHandler',
      description: 'git-geo: fetches changed repositories from the primary into this region',
      timeout: visibilityTimeout,
      memorySize: config.syncMemoryMiB,
      ephemeralStorageSize: Size.mebibytes(config.syncEphemeralStorageMiB),
      environment: {
        REGISTRY_TABLE: this.registry.tableName,
        MIRROR_BUCKET: this.bucket.bucketName,
        QUEUE_URL: this.queue.queueUrl,
        QUEUE_VISIBILITY_SECONDS: String(visibilityTimeout.toSeconds()),
        PACK_MAINTENANCE: JSON.stringify(config.packMaintenance),
        DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
        PRIMARY_TIMEOUT_MS: String(config.primaryTimeoutSeconds * 1000),
        RETRY_BASE_SECONDS: String(config.syncRetryBaseSeconds),
        MIN_SYNC_INTERVAL_SECONDS: String(config.minSyncIntervalSeconds),
        DELETED_REPOSITORIES: config.deletedRepositories,
        PRIMARY_URLS: config.primaryUrls.join(','),
        REF_NAMESPACES: JSON.stringify(config.refNamespaces),
        PRIMARY_OVERRIDE_CACHE_SECONDS: String(config.primaryOverrideCacheSeconds),
        POWERTOOLS_SERVICE_NAME: 'git-geo-sync',
        SELECTIVE_SYNC: JSON.stringify(rule),
        ...(config.primaryCredentialsSecretName ? { PRIMARY_CREDENTIALS_SECRET_ID: config.primaryCredentialsSecretName } : {}),
      },
    });
    this.sync.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: config.syncBatchSize,
        reportBatchItemFailures: true,
        maxConcurrency: config.syncMaxConcurrency,
      }),
    );
    grantMirrorAccess(this.bucket, this.sync, 'read-write');
    grantLfsObjectWrites(this.bucket, this.sync);
    // Permanent failures are parked in the dead-letter queue at once, for `git-geo redrive`.
    this.deadLetterQueue.grantSendMessages(this.sync);
    grantOnTableOnly(this.registry, this.sync, ...REGISTRY_READ_WRITE_ACTIONS);
    const secretNames = [
      ['PrimaryCredentials', config.primaryCredentialsSecretName],
      // A promoted host is read with the promotion credentials when the override names them.
      ['PromotionCredentials', config.promotionCredentialsSecretName],
    ] as const;
    for (const [id, name] of secretNames) {
      if (name === undefined) continue;
      const credentials = Secret.fromSecretPartialArn(
        this,
        id,
        this.formatArn({ service: 'secretsmanager', region: this.region, resource: 'secret', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      );
      credentials.grantRead(this.sync);
    }

    const primaryCredentials = config.primaryCredentialsSecretName
      ? Secret.fromSecretPartialArn(
          this,
          'PrimaryCredentialsForVerify',
          this.formatArn({ service: 'secretsmanager', region: this.region, resource: 'secret', resourceName: config.primaryCredentialsSecretName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
        )
      : undefined;

    // Verification: on its schedule every due repository, deep; the watchdog retries syncs stuck in `started`.
    this.verify = new GeoFunction(this, 'Verify', {
      entry: 'lambdas/verify/index.ts',
      handlerFactory: 'lambdas/verify/createVerifyHandler.ts#createVerifyHandler',
      description: "git-geo: verifies this region's mirrors against their bytes and the primary, and heals them",
      timeout: Duration.minutes(15),
      memorySize: config.syncMemoryMiB,
      environment: {
        REGISTRY_TABLE: this.registry.tableName,
        MIRROR_BUCKET: this.bucket.bucketName,
        QUEUE_URL: this.queue.queueUrl,
        PRIMARY_URLS: config.primaryUrls.join(','),
        PRIMARY_TIMEOUT_MS: String(config.primaryTimeoutSeconds * 1000),
        REF_NAMESPACES: JSON.stringify(config.refNamespaces),
        SYNC_LEASE_SECONDS: String(visibilityTimeout.toSeconds()),
        VERIFY_INTERVAL_SECONDS: String(config.verifyIntervalHours * 3600),
        MAX_REPAIRS: String(config.maxVerificationRepairs),
        REPAIR_BACKOFF_SECONDS: String(config.verificationBackoffSeconds),
        POWERTOOLS_SERVICE_NAME: 'git-geo-verify',
        ...(config.primaryCredentialsSecretName ? { PRIMARY_CREDENTIALS_SECRET_ID: config.primaryCredentialsSecretName } : {}),
      },
    });
    grantMirrorAccess(this.bucket, this.verify, 'read');
    grantLfsObjectWrites(this.bucket, this.verify);
    // Its one write to the bucket: the record of packs it has verified.
    this.verify.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [this.bucket.arnForObjects(`${VERIFIED_PACKS_PREFIX}*`)] }));
    Validations.of(this.verify).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.getLogicalId(this.bucket.node.defaultChild as CfnResource)}.Arn>/${VERIFIED_PACKS_PREFIX}*]`,
      reason: 'Verified-pack records are keyed by repository and pack under one prefix; the verifier writes nothing else.',
    });
    // Query and BatchWriteItem: the rows of the items verification re-checks (lambdas/replicable/ItemRegistry.ts).
    grantOnTableOnly(this.registry, this.verify, 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem');
    this.queue.grantSendMessages(this.verify);
    primaryCredentials?.grantRead(this.verify);
    this.verifySchedule = new Rule(this, 'VerifySchedule', {
      description: "git-geo: verify this region's mirrors that are due",
      schedule: Schedule.rate(Duration.minutes(config.verifyScheduleMinutes)),
      targets: [new LambdaFunction(this.verify, { event: RuleTargetInput.fromObject({ action: 'verify' }), retryAttempts: 2 })],
    });
    this.watchdogSchedule = new Rule(this, 'WatchdogSchedule', {
      description: 'git-geo: retry syncs stuck in started',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.verify, { event: RuleTargetInput.fromObject({ action: 'watchdog' }), retryAttempts: 2 })],
    });

    // Onboarding and selective sync: backfill until complete, remove what the rule excludes.
    if (config.backfill !== undefined || config.selectiveSync[this.region] !== undefined) {
      const source = config.backfill === undefined ? undefined : { ...config.backfill, apiUrl: config.backfill.apiUrl ?? (config.backfill.kind === 'github' ? 'https://api.github.com' : config.primaryUrls[0]!) };
      this.backfill = new GeoFunction(this, 'Backfill', {
        entry: 'lambdas/backfill/index.ts',
        handlerFactory: 'lambdas/backfill/createBackfillHandler.ts#createBackfillHandler',
        description: "git-geo: backfills this region from the primary's repository listing and applies its selective-sync rule",
        timeout: Duration.minutes(15),
        environment: {
          REGISTRY_TABLE: this.registry.tableName,
          MIRROR_BUCKET: this.bucket.bucketName,
          QUEUE_URL: this.queue.queueUrl,
          SELECTIVE_SYNC: JSON.stringify(rule),
            POWERTOOLS_SERVICE_NAME: 'git-geo-backfill',
          ...(source === undefined ? {} : { BACKFILL_SOURCE: JSON.stringify(source) }),
        },
      });
      // Reconciliation deletes excluded mirrors: read-write on the bucket.
      grantMirrorAccess(this.bucket, this.backfill, 'read-write');
      grantOnTableOnly(this.registry, this.backfill, 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem');
      this.queue.grantSendMessages(this.backfill);
      if (source?.tokenSecretName) {
        Secret.fromSecretPartialArn(
          this,
          'BackfillToken',
          this.formatArn({ service: 'secretsmanager', region: this.region, resource: 'secret', resourceName: source.tokenSecretName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
        ).grantRead(this.backfill);
      }
      new Rule(this, 'OnboardingSchedule', {
        description: 'git-geo: backfill this region until complete; apply selective-sync rule changes',
        schedule: Schedule.rate(Duration.minutes(1)),
        targets: [new LambdaFunction(this.backfill, { retryAttempts: 2 })],
      });
      new CfnOutput(this, 'BackfillFunctionName', { value: this.backfill.functionName });
    }

    this.endpoint = new GeoFunction(this, 'Endpoint', {
      entry: 'lambdas/endpoint/index.ts',
      handlerFactory: 'lambdas/endpoint/createEndpointHandler.ts#createEndpointHandler',
      localUrlPath: `/${this.region}`,
      description: 'git-geo: serves this region\'s copies to Git clients; stale reads and pushes go to the primary',
      // 200 MB at Lambda's 2 MB/s streaming rate past the first 6 MB, with room to spare.
      timeout: Duration.seconds(300),
      memorySize: 1024,
      ephemeralStorageSize: Size.mebibytes(ENDPOINT_EPHEMERAL_MIB),
      environment: {
        REGISTRY_TABLE: this.registry.tableName,
        MIRROR_BUCKET: this.bucket.bucketName,
        PRIMARY_URLS: config.primaryUrls.join(','),
        ON_CONTROL_PLANE_LOSS: config.onControlPlaneLoss,
        CONTROL_PLANE_LOSS_SECONDS: String(config.controlPlaneLossSeconds),
        STALENESS_BUDGET_SECONDS: String(config.stalenessBudgetSeconds),
        REF_NAMESPACES: JSON.stringify(config.refNamespaces),
        READ_MODE: config.readOnlyRegions.includes(this.region) ? 'read-only' : 'redirect',
        WRITE_PENDING_SECONDS: String(config.writePendingSeconds),
        ACCESS_CACHE_SECONDS: String(config.accessCacheSeconds),
        ANONYMOUS_TRUST_SECONDS: String(config.anonymousTrustSeconds),
        MAX_PACK_BYTES: String(MAX_STREAMED_PACK_BYTES),
        PACK_CACHE_BYTES: String((ENDPOINT_EPHEMERAL_MIB - 512) * 1024 * 1024),
        ALLOW_REACHABLE_SHA1_IN_WANT: String(config.allowReachableSha1InWant),
        PRIMARY_OVERRIDE_CACHE_SECONDS: String(config.primaryOverrideCacheSeconds),
        POWERTOOLS_SERVICE_NAME: 'git-geo-endpoint',
      },
    });
    grantMirrorAccess(this.bucket, this.endpoint, 'read');
    this.endpoint.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:GetItem'], resources: [this.registry.tableArn] }));
    // The one write: the write-pending marker of a repository the registry already holds.
    this.endpoint.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [this.registry.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'writePendingAt'] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
        },
      }),
    );

    // Point-in-time snapshots (manifests of refs and pack names; no data copied) and the garbage collector.
    this.backup = new GeoFunction(this, 'Backup', {
      entry: 'lambdas/backup/index.ts',
      handlerFactory: 'lambdas/backup/createBackupHandler.ts#createBackupHandler',
      description: 'git-geo: point-in-time snapshots of this region\'s mirrors, retention and pack garbage collection',
      timeout: Duration.minutes(15),
      memorySize: 1024,
      environment: {
        REGISTRY_TABLE: this.registry.tableName,
        MIRROR_BUCKET: this.bucket.bucketName,
        RETENTION_HOURLY_FOR_HOURS: String(config.backupRetention.hourlyForHours),
        RETENTION_DAILY_FOR_DAYS: String(config.backupRetention.dailyForDays),
        POWERTOOLS_SERVICE_NAME: 'git-geo-backup',
      },
    });
    grantMirrorAccess(this.bucket, this.backup, 'read-write');
    // Reads each repository's item and takes its lease while it reads the mirror.
    grantOnTableOnly(this.registry, this.backup, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    // No schedule scans the registry: they query its index of status and time.
    new RegistryStatusIndex(this, 'RegistryStatusIndex', { table: this.registry, readers: [this.verify, this.backup, ...(this.backfill ? [this.backfill] : [])] });
    // Its other write: the region's control item records the last backup run (the status page shows it).
    this.backup.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [this.registry.tableArn], conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [REGION_CONTROL_KEY.pk] } } }),
    );
    this.backupSchedule = new Rule(this, 'BackupSchedule', {
      description: 'git-geo: snapshot every mirror of this region and collect unreferenced packs',
      schedule: Schedule.rate(Duration.minutes(config.backupIntervalMinutes)),
      targets: [new LambdaFunction(this.backup, { retryAttempts: 2 })],
    });

    // Git clients cannot sign requests with SigV4: the handler checks each caller's own
    // credentials against the primary before it serves anything. Packs can be far larger than
    // a buffered response's 6 MB, so responses are streamed.
    const endpointUrl = this.endpoint.addFunctionUrl({ authType: FunctionUrlAuthType.NONE, invokeMode: InvokeMode.RESPONSE_STREAM });

    this.alarms = new RegionAlarms(this, 'Alarms', {
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      endpoint: this.endpoint,
      lagSloSeconds: config.replicationLagSloSeconds,
      backupIntervalMinutes: config.backupIntervalMinutes,
      ...(config.alarmTopicName === undefined ? {} : { alarmTopicName: config.alarmTopicName }),
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn });
    new StatusPage(this, 'StatusPage', {
      registry: this.registry,
      queue: this.queue,
      deadLetterQueue: this.deadLetterQueue,
      regionStacks: config.secondaryRegions.map((region) => ({ region, stackName: regionStackName(config.stackPrefix, region) })),
      syncLeaseSeconds: visibilityTimeout.toSeconds(),
      lagSloSeconds: config.replicationLagSloSeconds,
      backupIntervalMinutes: config.backupIntervalMinutes,
      refreshSeconds: config.statusPageRefreshSeconds,
    });

    new CfnOutput(this, 'GitEndpointUrl', { value: endpointUrl.url, description: 'Clone from <GitEndpointUrl><repository-path>.git' });
    new CfnOutput(this, 'MirrorBucket', { value: this.bucket.bucketName });
    new CfnOutput(this, 'RegistryTable', { value: this.registry.tableName });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'SyncFunctionName', { value: this.sync.functionName });
    new CfnOutput(this, 'VerifyFunctionName', { value: this.verify.functionName });
  }
}
