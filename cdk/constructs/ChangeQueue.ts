import { Duration, Stack, type CfnResource } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { SelectiveSyncRule } from '../../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';
import type { GeoFunction } from './GeoFunction.ts';
import { syncFilterPolicy } from './RegionalAnnouncements.ts';

export interface ChangeQueueProps {
  readonly primaryRegion: string;
  /** Name of the primary's FIFO topic (in the primary region, same account). */
  readonly changeTopicName: string;
  /** The standby control plane's topic, which the queue also subscribes to. */
  readonly standbyTopic?: { readonly region: string; readonly name: string };
  /** How long a delivered change event stays invisible: the sync's timeout. */
  readonly visibilityTimeout: Duration;
  /** Deliveries of one change event before it goes to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** This region's selective-sync rule, applied at fan-out as the subscription's filter policy. */
  readonly selectiveSyncRule: SelectiveSyncRule;
  /** Logical ids to keep (from before these queues moved into this construct), so an upgrade replaces neither. */
  readonly logicalIds?: { readonly queue: string; readonly deadLetterQueue: string };
}

/**
 * A region's FIFO queue of change events, subscribed across regions to the primary's topic (and
 * the standby control plane's, when there is one; raw delivery; the message group, the repository
 * path, is kept end to end), and its dead-letter queue.
 */
export class ChangeQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  /** The control plane's change topics the region listens to: the primary's, then any standby. */
  readonly topics: readonly ITopic[];

  constructor(scope: Construct, id: string, props: ChangeQueueProps) {
    super(scope, id);
    this.deadLetterQueue = new Queue(this, 'DeadLetters', {
      fifo: true,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new Queue(this, 'Queue', {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: props.visibilityTimeout,
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
    });
    if (props.logicalIds !== undefined) {
      (this.queue.node.defaultChild as CfnResource).overrideLogicalId(props.logicalIds.queue);
      (this.deadLetterQueue.node.defaultChild as CfnResource).overrideLogicalId(props.logicalIds.deadLetterQueue);
    }
    const stack = Stack.of(this);
    const topics = [Topic.fromTopicAttributes(this, 'PrimaryChangeEvents', { topicArn: stack.formatArn({ service: 'sns', region: props.primaryRegion, resource: props.changeTopicName }) })];
    if (props.standbyTopic !== undefined) {
      topics.push(Topic.fromTopicAttributes(this, 'StandbyChangeEvents', { topicArn: stack.formatArn({ service: 'sns', region: props.standbyTopic.region, resource: props.standbyTopic.name }) }));
    }
    this.topics = topics;
    // Selective sync at fan-out: events of repositories this region does not hold never reach its queue (nor do heartbeats).
    for (const topic of topics) topic.addSubscription(new SqsSubscription(this.queue, { rawMessageDelivery: true, filterPolicy: syncFilterPolicy(props.selectiveSyncRule) }));
  }

  /** Makes `fn` the queue's consumer: partial batch failures, bounded concurrency; QUEUE_URL for its visibility heartbeat. */
  addConsumer(fn: GeoFunction, options: { readonly batchSize: number; readonly maxConcurrency: number }): void {
    fn.setResource('QUEUE_URL', this.queue.queueUrl);
    fn.addEventSource(new SqsEventSource(this.queue, { batchSize: options.batchSize, reportBatchItemFailures: true, maxConcurrency: options.maxConcurrency }));
  }

  /** Requests syncs (QUEUE_URL). */
  grantSend(fn: GeoFunction): void {
    fn.setResource('QUEUE_URL', this.queue.queueUrl);
    this.queue.grantSendMessages(fn);
  }

  /** Parks permanent failures in the dead-letter queue (DEAD_LETTER_QUEUE_URL). */
  grantSendDeadLetters(fn: GeoFunction): void {
    fn.setResource('DEAD_LETTER_QUEUE_URL', this.deadLetterQueue.queueUrl);
    this.deadLetterQueue.grantSendMessages(fn);
  }
}
