import { Duration, Stack, type CfnResource } from 'aws-cdk-lib';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { SubscriptionFilter, Topic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { filterPolicyOf, type SelectiveSyncRule } from '../../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';
import type { GeoFunction } from './GeoFunction.ts';

export interface ChangeQueueProps {
  readonly primaryRegion: string;
  /** Name of the primary's FIFO topic (in the primary region, same account). */
  readonly changeTopicName: string;
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
 * A region's FIFO queue of change events, subscribed across regions to the primary's topic
 * (raw delivery; the message group, the repository path, is kept end to end), and its
 * dead-letter queue.
 */
export class ChangeQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

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
    const topic = Topic.fromTopicAttributes(this, 'PrimaryChangeEvents', {
      topicArn: Stack.of(this).formatArn({ service: 'sns', region: props.primaryRegion, resource: props.changeTopicName }),
    });
    // Selective sync at fan-out: events of repositories this region does not hold never reach its queue.
    const filterPolicy = filterPolicyOf(props.selectiveSyncRule);
    topic.addSubscription(
      new SqsSubscription(this.queue, {
        rawMessageDelivery: true,
        ...(filterPolicy === undefined
          ? {}
          : { filterPolicy: Object.fromEntries(Object.entries(filterPolicy).map(([attribute, conditions]) => [attribute, new SubscriptionFilter(conditions)])) }),
      }),
    );
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
