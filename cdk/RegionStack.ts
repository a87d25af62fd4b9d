import { ArnFormat, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { GeoFunction } from './constructs/GeoFunction.ts';
import { grantMirrorAccess } from './constructs/grantMirrorAccess.ts';
import { NONCURRENT_VERSIONS, SECURE_BUCKET, SECURE_TABLE } from './constructs/secureDefaults.ts';
import type { GeoConfig } from './GeoConfig.ts';
import { TOMBSTONE_PREFIX } from '../lambdas/sync/tombstonePrefix.ts';

export interface RegionStackProps extends StackProps {
  readonly config: GeoConfig;
  /** Name of the primary's FIFO topic (in the primary region, same account). */
  readonly changeTopicName: string;
}

/**
 * One secondary region: a FIFO queue (with its dead-letter queue) subscribed across
 * regions to the primary's topic, the mirror bucket, the registry, and the `sync` Lambda.
 */
export class RegionStack extends Stack {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly bucket: Bucket;
  readonly registry: Table;
  readonly sync: GeoFunction;

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
      lifecycleRules: [
        ...(NONCURRENT_VERSIONS(config.noncurrentVersionDays) ?? []),
        { id: 'expire-tombstones', prefix: TOMBSTONE_PREFIX, expiration: Duration.days(config.tombstoneRetentionDays) },
      ],
    });

    this.registry = new Table(this, 'Registry', { ...SECURE_TABLE });

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
    topic.addSubscription(new SqsSubscription(this.queue, { rawMessageDelivery: true }));

    this.sync = new GeoFunction(this, 'Sync', {
      entry: 'lambdas/sync/index.ts',
      handlerFactory: 'lambdas/sync/createSyncHandler.ts#createSyncHandler',
      description: 'git-geo: fetches changed repositories from the primary into this region',
      timeout: visibilityTimeout,
      memorySize: config.syncMemoryMiB,
      environment: {
        REGISTRY_TABLE: this.registry.tableName,
        MIRROR_BUCKET: this.bucket.bucketName,
        QUEUE_URL: this.queue.queueUrl,
        QUEUE_VISIBILITY_SECONDS: String(visibilityTimeout.toSeconds()),
        DEAD_LETTER_QUEUE_URL: this.deadLetterQueue.queueUrl,
        PRIMARY_TIMEOUT_MS: String(config.primaryTimeoutSeconds * 1000),
        RETRY_BASE_SECONDS: String(config.syncRetryBaseSeconds),
        MIN_SYNC_INTERVAL_SECONDS: String(config.minSyncIntervalSeconds),
        DELETED_REPOSITORIES: config.deletedRepositories,
        PRIMARY_URLS: config.primaryUrls.join(','),
        SECRETS_REGION: primaryRegion,
        REF_NAMESPACES: JSON.stringify(config.refNamespaces),
        POWERTOOLS_SERVICE_NAME: 'git-geo-sync',
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
    // Permanent failures are parked in the dead-letter queue at once, for `git-geo redrive`.
    this.deadLetterQueue.grantSendMessages(this.sync);
    this.registry.grantReadWriteData(this.sync);
    if (config.primaryCredentialsSecretName) {
      const credentials = Secret.fromSecretPartialArn(
        this,
        'PrimaryCredentials',
        this.formatArn({ service: 'secretsmanager', region: primaryRegion, resource: 'secret', resourceName: config.primaryCredentialsSecretName, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      );
      credentials.grantRead(this.sync);
    }

    new CfnOutput(this, 'MirrorBucket', { value: this.bucket.bucketName });
    new CfnOutput(this, 'RegistryTable', { value: this.registry.tableName });
    new CfnOutput(this, 'QueueUrl', { value: this.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.deadLetterQueue.queueUrl });
  }
}
