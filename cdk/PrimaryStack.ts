import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { FunctionUrlAuthType } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { GeoFunction } from './constructs/GeoFunction.ts';
import { SECURE_TABLE } from './constructs/secureDefaults.ts';
import type { GeoConfig } from './GeoConfig.ts';

export interface PrimaryStackProps extends StackProps {
  readonly config: GeoConfig;
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

  constructor(scope: Construct, id: string, props: PrimaryStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.eventLog = new Table(this, 'EventLog', { ...SECURE_TABLE, tableName: eventLogTableName(this.stackName), timeToLiveAttribute: 'expiration' });

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
      entry: 'lambdas/notify/index.ts',
      handlerFactory: 'lambdas/notify/createNotifyHandler.ts#createNotifyHandler',
      localUrlPath: '/webhook',
      description: 'git-geo: receives Git host webhooks, records change events and publishes them',
      timeout: Duration.seconds(30),
      environment: {
        EVENT_LOG_TABLE: this.eventLog.tableName,
        TOPIC_ARN: this.topic.topicArn,
        WEBHOOK_SECRET_ID: config.webhookSecretName,
        PRIMARY_URLS: config.primaryUrls.join(','),
        MAX_BODY_BYTES: String(config.maxWebhookBytes),
        POWERTOOLS_SERVICE_NAME: 'git-geo-notify',
      },
    });
    this.eventLog.grantReadWriteData(this.notify);
    this.topic.grantPublish(this.notify);
    webhookSecret.grantRead(this.notify);

    // Git hosts cannot sign requests with SigV4: the handler authenticates every request
    // with the host's own scheme (token or HMAC) before it reads the body.
    const url = this.notify.addFunctionUrl({ authType: FunctionUrlAuthType.NONE });
    new CfnOutput(this, 'WebhookUrl', { value: url.url, description: 'Point every Git host webhook here' });
    new CfnOutput(this, 'EventLogTable', { value: this.eventLog.tableName });
    new CfnOutput(this, 'ChangeTopicArn', { value: this.topic.topicArn });
  }
}
