import { Duration } from 'aws-cdk-lib';
import {
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  MathExpression,
  Metric,
  TextWidget,
  type IMetric,
  type IWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, METRICS_SERVICE, GIT_TYPE, metricDimensions, type MetricName } from '../../lambdas/shared/metricNames.ts';

export interface GeoDashboardProps {
  /** The secondary regions, one row each, in this order. */
  readonly regions: readonly string[];
  /** Each region's stack name: the region's queues are found by it (their names start with it). */
  readonly regionStackName: (region: string) => string;
  /** Replication lag objective, seconds: drawn on the lag graph. */
  readonly lagSloSeconds: number;
}

const PERIOD = Duration.minutes(5);
const WIDTH = 4;
const HEIGHT = 6;

/**
 * One CloudWatch dashboard for the whole deployment: a row per secondary region, each graph
 * reading that region's metrics (CloudWatch dashboards show metrics across regions).
 */
export class GeoDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: GeoDashboardProps) {
    super(scope, id);
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    for (const region of props.regions) this.dashboard.addWidgets(...regionRow(region, props.regionStackName(region), props.lagSloSeconds));
  }
}

function regionRow(region: string, stackName: string, lagSloSeconds: number): IWidget[] {
  const geo = (metricName: MetricName, label: string, statistic = 'Sum'): Metric =>
    new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: metricDimensions(region), statistic, period: PERIOD, region, label });
  // AWS's own SQS metrics: the queue names are CloudFormation's (the stack name, the construct id, a suffix).
  const queueSearch = (metricName: string, queueId: string, label: string, statistic: string): MathExpression =>
    new MathExpression({
      expression: `SEARCH('{AWS/SQS,QueueName} MetricName="${metricName}" ${stackName} ${queueId}', '${statistic}', ${PERIOD.toSeconds()})`,
      usingMetrics: {},
      label,
      period: PERIOD,
      searchRegion: region,
    });
  const graph = (title: string, left: IMetric[], right: IMetric[] = [], extra: { leftAnnotations?: HorizontalAnnotation[] } = {}): GraphWidget =>
    new GraphWidget({ title: `${region}: ${title}`, region, left, right, width: WIDTH, height: HEIGHT, ...extra });
  return [
    new TextWidget({ markdown: `## ${region}`, width: 24, height: 1 }),
    graph('events and syncs', [
      geo(METRIC.eventsReceived, 'events received'),
      geo(METRIC.syncsSucceeded, 'synced'),
      geo(METRIC.syncsFailedTransient, 'failed (retrying)'),
      geo(METRIC.syncsFailedPermanently, 'failed permanently'),
    ], [geo(METRIC.bytesFetched, 'bytes fetched')]),
    graph('sync outcome by cause', [
      new MathExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},service,Region,Type,Outcome,Cause} MetricName="${METRIC.syncOutcome}" service="${METRICS_SERVICE}" Region="${region}" Type="${GIT_TYPE}"', 'Sum', ${PERIOD.toSeconds()})`,
        usingMetrics: {},
        label: '',
        period: PERIOD,
        searchRegion: region,
      }),
    ]),
    graph(
      'replication lag (ms) and backlog age (s)',
      [geo(METRIC.replicationLag, 'lag p50', 'p50'), geo(METRIC.replicationLag, 'lag p99', 'p99')],
      [queueSearch('ApproximateAgeOfOldestMessage', 'ChangeEvents', 'oldest queued event (s)', 'Maximum')],
      { leftAnnotations: [{ value: lagSloSeconds * 1000, label: `objective ${lagSloSeconds} s` }] },
    ),
    graph('Git endpoint requests', [
      geo(METRIC.requestsServedLocally, 'served locally'),
      geo(METRIC.requestsRedirected, 'redirected'),
      geo(METRIC.requestsRefused, 'refused'),
      geo(METRIC.requestsFailed, 'failed (5xx)'),
    ]),
    graph('verification and backups', [
      geo(METRIC.verificationsPassed, 'verified'),
      geo(METRIC.verificationsFailed, 'damage found'),
      geo(METRIC.repairsGivenUp, 'repairs given up'),
      geo(METRIC.backupsCompleted, 'backups'),
    ]),
    graph(
      'queues',
      [queueSearch('ApproximateNumberOfMessagesVisible', 'ChangeEventsDeadLetters', 'dead-letter depth', 'Maximum'), geo(METRIC.stuckSyncs, 'stuck syncs', 'Maximum')],
      [queueSearch('ApproximateAgeOfOldestMessage', 'ChangeEvents', 'backlog age (s)', 'Maximum')],
    ),
  ];
}
