import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { AttributeType, ProjectionType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { FunctionUrlAuthType, InvokeMode } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { UNPUBLISHED_INDEX } from '../lambdas/shared/eventlog/unpublishedIndex.ts';
import { GeoDashboard } from './constructs/GeoDashboard.ts';
import { GeoFunction } from './constructs/GeoFunction.ts';
import { SECURE_TABLE } from './constructs/secureDefaults.ts';
import { TableBackupPlan } from './constructs/TableBackupPlan.ts';
import { functionSettings } from './functionSettings.ts';
import type { GeoConfig } from './GeoConfig.ts';
import { regionStackName } from './RegionStack.ts';

export interface PrimaryStackProps extends StackProps {
  readonly config: GeoConfig;
  /**
   * `primary`: the control plane webhooks go to. `standby`: the same resources in another region,
   * which every region's queues also subscribe to; `git-geo failover-control-plane` makes it active.
   * @default 'primary'
   */
  readonly role?: 'primary' | 'standby';
}

/** The FIFO topic's name: derived from the stack name, so secondary stacks can address it across regions. */
export function changeTopicName(primaryStackName: string): string {
  return `${primaryStackName}-ChangeEvents.fifo`;
}

/**
 * The event log table's name: derived from the stack name, as the topic's is, so regional
 * endpoints can read the newest event of a repository across regions without exports.
 */
export function eventLogTableName(primaryStackName: string): string {
  return `${primaryStackName}-EventLog`;
}

/**
 * The primary region: the `notify` webhook endpoint, the event log, and the FIFO topic
 * that fans change events out to every secondary region.
 */
export class PrimaryStack extends Stack {
  readonly eventLog: Table;
  readonly topic: Topic;
  readonly notify: GeoFunction;
  readonly republish: GeoFunction;
  readonly republishSchedule: Rule;
  readonly dashboard: GeoDashboard;

  constructor(scope: Construct, id: string, props: PrimaryStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.eventLog = new Table(this, 'EventLog', { ...SECURE_TABLE, tableName: eventLogTableName(this.stackName), timeToLiveAttribute: 'expiration' });
    // Sparse: only events whose publish has not succeeded yet are in it, so the republisher reads almost nothing.
    this.eventLog.addGlobalSecondaryIndex({
      indexName: UNPUBLISHED_INDEX.name,
      partitionKey: { name: UNPUBLISHED_INDEX.partitionKey, type: AttributeType.STRING },
      sortKey: { name: UNPUBLISHED_INDEX.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.ALL,
    });

    // Besides PITR: daily AWS Backup recovery points, kept apart from the table.
    new TableBackupPlan(this, 'EventLogBackups', { tables: [this.eventLog], retentionDays: config.tableBackupRetentionDays });

    this.topic = new Topic(this, 'ChangeEvents', {
      topicName: changeTopicName(this.stackName),
      fifo: true,
      contentBasedDeduplication: false,
      enforceSSL: true,
      // Encryption at rest inside SNS; deliveries to SQS are decrypted by SNS itself.
      masterKey: Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns'),
    });

    const webhookSecret = Secret.fromSecretNameV2(this, 'WebhookSecret', config.webhookSecretName);
    this.notify = new GeoFunction(this, 'Notify', {
      lambda: 'notify',
      localUrlPath: props.role === 'standby' ? `/webhook-${this.region}` : '/webhook',
      description: 'git-geo: receives Git host webhooks, records change events and publishes them',
      timeout: Duration.seconds(30),
      settings: functionSettings.notify(config),
    });
    this.notify.setResource('EVENT_LOG_TABLE', this.eventLog.tableName).setResource('TOPIC_ARN', this.topic.topicArn);
    // Named actions on the table itself: notify never reads the index (grantReadWriteData would add index/*).
    this.notify.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem'],
        resources: [this.eventLog.tableArn],
      }),
    );
    this.topic.grantPublish(this.notify);
    webhookSecret.grantRead(this.notify);

    // Nothing recorded is lost: events whose publish failed (and whose host never retried) go out on a schedule.
    this.republish = new GeoFunction(this, 'Republish', {
      lambda: 'republish',
      description: 'git-geo: publishes change events recorded in the event log but not yet published',
      timeout: Duration.minutes(2),
      settings: functionSettings.republish(config),
    });
    this.republish.setResource('EVENT_LOG_TABLE', this.eventLog.tableName).setResource('TOPIC_ARN', this.topic.topicArn);
    this.republish.addToRolePolicy(
      new PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${this.eventLog.tableArn}/index/${UNPUBLISHED_INDEX.name}`] }),
    );
    this.republish.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:UpdateItem'], resources: [this.eventLog.tableArn] }));
    this.topic.grantPublish(this.republish);
    this.republishSchedule = new Rule(this, 'RepublishSchedule', {
      description: 'git-geo: republish change events left unpublished',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.republish, { retryAttempts: 2 })],
    });

    // Git hosts cannot sign requests with SigV4: the handler authenticates every request
    // with the host's own scheme (token or HMAC) before it reads the body. Streamed, so the host
    // has its answer once the change is recorded, and publishing runs after it.
    const url = this.notify.addFunctionUrl({ authType: FunctionUrlAuthType.NONE, invokeMode: InvokeMode.RESPONSE_STREAM });
    new CfnOutput(this, 'WebhookUrl', { value: url.url, description: 'Point every Git host webhook here' });
    new CfnOutput(this, 'EventLogTable', { value: this.eventLog.tableName });
    new CfnOutput(this, 'ChangeTopicArn', { value: this.topic.topicArn });
    new CfnOutput(this, 'ControlPlaneRole', { value: props.role ?? 'primary' });

    // One dashboard for the deployment, a row per secondary region.
    this.dashboard = new GeoDashboard(this, 'Dashboard', {
      regions: config.secondaryRegions,
      regionStackName: (region) => regionStackName(config.stackPrefix, region),
      lagSloSeconds: config.replicationLagSloSeconds,
    });
  }
}
