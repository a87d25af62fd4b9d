import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmRule,
  ComparisonOperator,
  CompositeAlarm,
  Metric,
  TreatMissingData,
  type IAlarm,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Alias } from 'aws-cdk-lib/aws-kms';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, metricDimensions, type MetricName } from '../../lambdas/shared/metricNames.ts';

export interface RegionAlarmsProps {
  /** The region's change-event queue (its oldest message's age is the backlog) and its dead-letter queue. */
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** The region's Git endpoint (its Function URL's 5xx count). */
  readonly endpoint: IFunction;
  /** Replication lag objective, seconds (GeoConfig.replicationLagSloSeconds). */
  readonly lagSloSeconds: number;
  /** Minutes between backup runs (GeoConfig.backupIntervalMinutes). */
  readonly backupIntervalMinutes: number;
  /** An existing topic's name in this region (GeoConfig.alarmTopicName); else one is created. */
  readonly alarmTopicName?: string;
}

/** Endpoint answers of 5xx in five minutes that raise the alarm: a single blip (a cold primary) does not. */
const ENDPOINT_5XX_PER_5_MINUTES = 5;
/** Minutes a stuck sync must stay stuck: the watchdog retries one within a minute, so three mean it did not recover. */
const STUCK_MINUTES = 3;
/** Consecutive five-minute periods lag must stay above the objective: one slow push is not an incident. */
const LAG_PERIODS = 3;

/**
 * The alarms of one secondary region, each notifying the alarm topic, and a composite
 * "region unhealthy" that is in alarm when any of them is: a non-empty dead-letter queue,
 * lag p99 (and the backlog's age) above the objective, permanent sync failures, verification
 * failures and repairs given up, endpoint 5xx, stuck syncs, and backups that did not run.
 */
export class RegionAlarms extends Construct {
  readonly topic: ITopic;
  readonly alarms: Readonly<Record<string, Alarm>>;
  readonly regionUnhealthy: CompositeAlarm;

  constructor(scope: Construct, id: string, props: RegionAlarmsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const region = stack.region;
    this.topic =
      props.alarmTopicName === undefined
        ? new Topic(this, 'Topic', { displayName: `git-geo alarms (${region})`, enforceSSL: true, masterKey: Alias.fromAliasName(this, 'SnsManagedKey', 'alias/aws/sns') })
        : Topic.fromTopicArn(this, 'Topic', stack.formatArn({ service: 'sns', resource: props.alarmTopicName }));
    const geo = (metricName: MetricName, statistic: string, period: Duration): Metric =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: metricDimensions(region), statistic, period });
    const fiveMinutes = Duration.minutes(5);
    const atLeastOnce = { threshold: 1, evaluationPeriods: 1, comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: TreatMissingData.NOT_BREACHING };
    const backupPeriodMinutes = Math.min(2 * props.backupIntervalMinutes, 1440);

    const alarms: Record<string, Alarm> = {
      DeadLetters: new Alarm(this, 'DeadLetters', {
        alarmDescription: `git-geo ${region}: change events are in the dead-letter queue (permanent failures); fix the cause, then git-geo redrive`,
        metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: fiveMinutes }),
        ...atLeastOnce,
      }),
      LagAboveSlo: new Alarm(this, 'LagAboveSlo', {
        alarmDescription: `git-geo ${region}: replication lag p99 above the ${props.lagSloSeconds} s objective`,
        metric: geo(METRIC.replicationLag, 'p99', fiveMinutes),
        threshold: props.lagSloSeconds * 1000,
        evaluationPeriods: LAG_PERIODS,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      // Lag is measured when a sync finishes; a region that syncs nothing shows it in the backlog's age.
      BacklogAboveSlo: new Alarm(this, 'BacklogAboveSlo', {
        alarmDescription: `git-geo ${region}: the oldest unreplicated push is older than the ${props.lagSloSeconds} s objective`,
        metric: props.queue.metricApproximateAgeOfOldestMessage({ statistic: 'Maximum', period: fiveMinutes }),
        threshold: props.lagSloSeconds,
        evaluationPeriods: LAG_PERIODS,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      }),
      PermanentSyncFailures: new Alarm(this, 'PermanentSyncFailures', {
        alarmDescription: `git-geo ${region}: syncs failed permanently (see git-geo status for the causes)`,
        metric: geo(METRIC.syncsFailedPermanently, 'Sum', fiveMinutes),
        ...atLeastOnce,
      }),
      VerificationFailures: new Alarm(this, 'VerificationFailures', {
        alarmDescription: `git-geo ${region}: verification found damaged mirrors (repairs requested)`,
        metric: geo(METRIC.verificationsFailed, 'Sum', fiveMinutes),
        ...atLeastOnce,
      }),
      RepairsGivenUp: new Alarm(this, 'RepairsGivenUp', {
        alarmDescription: `git-geo ${region}: repairs used up; mirrors wait for an operator`,
        metric: geo(METRIC.repairsGivenUp, 'Sum', fiveMinutes),
        ...atLeastOnce,
      }),
      Endpoint5xx: new Alarm(this, 'Endpoint5xx', {
        alarmDescription: `git-geo ${region}: the Git endpoint answered ${ENDPOINT_5XX_PER_5_MINUTES} or more 5xx in five minutes`,
        metric: props.endpoint.metric('Url5xxCount', { statistic: 'Sum', period: fiveMinutes }),
        ...atLeastOnce,
        threshold: ENDPOINT_5XX_PER_5_MINUTES,
      }),
      StuckSyncs: new Alarm(this, 'StuckSyncs', {
        alarmDescription: `git-geo ${region}: syncs stuck in started for ${STUCK_MINUTES} minutes despite the watchdog`,
        metric: geo(METRIC.stuckSyncs, 'Maximum', Duration.minutes(1)),
        ...atLeastOnce,
        evaluationPeriods: STUCK_MINUTES,
      }),
      // Missing data breaches: a backup that did not run emits nothing.
      BackupMissed: new Alarm(this, 'BackupMissed', {
        alarmDescription: `git-geo ${region}: no backup completed in ${backupPeriodMinutes} minutes (scheduled every ${props.backupIntervalMinutes})`,
        metric: geo(METRIC.backupsCompleted, 'Sum', Duration.minutes(backupPeriodMinutes)),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: TreatMissingData.BREACHING,
      }),
    };
    const notify = new SnsAction(this.topic);
    for (const alarm of Object.values(alarms)) alarm.addAlarmAction(notify);
    this.alarms = alarms;

    this.regionUnhealthy = new CompositeAlarm(this, 'RegionUnhealthy', {
      alarmDescription: `git-geo ${region} is unhealthy: one of its alarms is in alarm`,
      alarmRule: AlarmRule.anyOf(...Object.values(alarms).map((alarm): IAlarm => alarm)),
    });
    this.regionUnhealthy.addAlarmAction(notify);
    this.regionUnhealthy.addOkAction(notify);
  }
}
