import { Duration } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { SubscriptionFilter, type ITopic } from 'aws-cdk-lib/aws-sns';
import { SqsSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { AnnounceSettings } from '../../lambdas/announce/settings.ts';
import { announcementsQueueFilterPolicy, syncQueueFilterPolicy } from '../../lambdas/shared/selectiveSync/queueFilterPolicies.ts';
import type { SelectiveSyncRule } from '../../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';
import { GeoFunction } from './GeoFunction.ts';

export interface RegionalAnnouncementsProps {
  /** The control plane's change topics this region listens to (the active one, and any standby). */
  readonly topics: readonly ITopic[];
  readonly registry: ITable;
  /** The function's settings (cdk/functionSettings.ts): the region's selective-sync rule, and the control plane active until `git-geo failover-control-plane` names another. */
  readonly settings: z.input<typeof AnnounceSettings>;
}

type FilterPolicy = Record<string, SubscriptionFilter>;

function toFilters(policy: Record<string, unknown[]>): FilterPolicy {
  return Object.fromEntries(Object.entries(policy).map(([attribute, conditions]) => [attribute, new SubscriptionFilter(conditions)]));
}

/** The sync queue's filter (see syncQueueFilterPolicy). */
export function syncFilterPolicy(rule: SelectiveSyncRule): FilterPolicy {
  return toFilters(syncQueueFilterPolicy(rule));
}

function announcementsFilterPolicy(rule: SelectiveSyncRule): FilterPolicy | undefined {
  const policy = announcementsQueueFilterPolicy(rule);
  return policy === undefined ? undefined : toFilters(policy);
}

/**
 * A region's own record of what the control plane announced: a FIFO queue subscribed to the
 * change topic beside the sync queue, and the `announce` function that writes each event's
 * sequence (and each heartbeat) into the region's registry as it arrives. It never waits behind
 * a sync, so "fresh" is two regional numbers compared, and "the control plane went quiet" is one
 * regional timestamp.
 */
export class RegionalAnnouncements extends Construct {
  readonly queue: Queue;
  readonly handler: GeoFunction;

  constructor(scope: Construct, id: string, props: RegionalAnnouncementsProps) {
    super(scope, id);
    const deadLetters = new Queue(this, 'DeadLetters', { fifo: true, encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) });
    this.queue = new Queue(this, 'Queue', {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(30),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: 10 },
    });
    // The rule as the function reads it (its defaults are the schema's).
    const filterPolicy = announcementsFilterPolicy(AnnounceSettings.parse(props.settings).selectiveSyncRule);
    for (const topic of props.topics) {
      topic.addSubscription(new SqsSubscription(this.queue, { rawMessageDelivery: true, ...(filterPolicy === undefined ? {} : { filterPolicy }) }));
    }
    this.handler = new GeoFunction(this, 'Announce', {
      lambda: 'announce',
      description: "git-geo: records each change event's sequence and each control-plane heartbeat in this region's registry",
      timeout: Duration.seconds(20),
      memorySize: 256,
      settings: props.settings,
    });
    this.handler.setResource('REGISTRY_TABLE', props.registry.tableName);
    this.handler.addEventSource(new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }));
    // Its only writes: the announced sequence of a repository item (created pending if new), and the heartbeat on the control item.
    this.handler.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [props.registry.tableArn],
        conditions: {
          'ForAllValues:StringEquals': {
            'dynamodb:Attributes': ['pk', 'sk', 'announcedSequence', 'announcedAt', 'repository', 'replicable', 'status', 'controlPlaneHeardAt', 'controlPlaneRegion', 'activeControlPlaneRegion'],
          },
        },
      }),
    );
  }
}
