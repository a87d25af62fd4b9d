import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Code, Function as LambdaFunction, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { RegionAlarms } from '../../../cdk/constructs/RegionAlarms.ts';
import { METRIC, METRICS_NAMESPACE } from '../../../lambdas/shared/metricNames.ts';
import { buildTestApp, testApp, type TestGeoApp } from '../testApp.ts';

/** The dimension set every git-geo metric carries, as CloudFormation lists it (sorted). */
const DIMENSIONS = [
  { Name: 'Region', Value: 'eu-west-1' },
  { Name: 'Type', Value: 'git' },
  { Name: 'service', Value: 'git-geo' },
];

function alarmsIn(props: { alarmTopicName?: string } = {}): { template: Template; stack: Stack; alarms: RegionAlarms } {
  const stack = new Stack(testApp(), 'Alarms', { env: { account: '111111111111', region: 'eu-west-1' } });
  const deadLetterQueue = new Queue(stack, 'DeadLetters');
  const queue = new Queue(stack, 'ChangeEvents');
  const endpoint = new LambdaFunction(stack, 'Endpoint', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async () => ({})') });
  const alarms = new RegionAlarms(stack, 'RegionAlarms', { queue, deadLetterQueue, endpoint, lagSloSeconds: 120, backupIntervalMinutes: 30, ...props });
  return { template: Template.fromStack(stack), stack, alarms };
}

describe('RegionAlarms', () => {
  let template: Template;
  let stack: Stack;
  let topicId: string;

  beforeAll(() => {
    ({ template, stack } = alarmsIn());
    topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;
  });

  const alarm = (props: Record<string, unknown>): void =>
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { ...props, AlarmActions: [{ Ref: topicId }] });

  it('a non-empty dead-letter queue alarms', () => {
    alarm({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DeadLetters'), 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
  });

  it('lag p99 above the objective alarms, and so does a backlog older than it', () => {
    alarm({ Namespace: METRICS_NAMESPACE, MetricName: METRIC.replicationLag, ExtendedStatistic: 'p99', Dimensions: DIMENSIONS, Threshold: 120_000, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3 });
    alarm({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateAgeOfOldestMessage',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ChangeEvents'), 'QueueName'] } }],
      Statistic: 'Maximum',
      Threshold: 120,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('has exactly the alarms the cases here test, each described and notifying the topic (a new alarm needs its own case)', () => {
    const { alarms } = alarmsIn();
    expect(Object.keys(alarms.alarms).sort()).toEqual(
      ['BacklogAboveSlo', 'BackupMissed', 'DeadLetters', 'Endpoint5xx', 'LagAboveSlo', 'PermanentSyncFailures', 'RepairsGivenUp', 'StuckSyncs', 'VerificationFailures'].sort(),
    );
    for (const resource of Object.values(template.findResources('AWS::CloudWatch::Alarm')) as { Properties: { AlarmDescription?: string; AlarmActions?: unknown } }[]) {
      expect(resource.Properties.AlarmDescription).toMatch(/^git-geo eu-west-1: /);
      expect(resource.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('permanent sync failures, verification failures and repairs given up alarm at the first one', () => {
    for (const metricName of [METRIC.syncsFailedPermanently, METRIC.verificationsFailed, METRIC.repairsGivenUp]) {
      alarm({ Namespace: METRICS_NAMESPACE, MetricName: metricName, Statistic: 'Sum', Dimensions: DIMENSIONS, Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    }
  });

  it('endpoint 5xx alarm on the Function URL metric of the endpoint', () => {
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'Url5xxCount', Dimensions: [{ Name: 'FunctionName', Value: { Ref: Match.stringLikeRegexp('^Endpoint') } }], Statistic: 'Sum', Threshold: 5 });
  });

  it('syncs stuck for three minutes alarm', () => {
    alarm({ Namespace: METRICS_NAMESPACE, MetricName: METRIC.stuckSyncs, Dimensions: DIMENSIONS, Period: 60, EvaluationPeriods: 3, Threshold: 1 });
  });

  it('a backup that did not run alarms: missing data breaches over two backup intervals', () => {
    alarm({ Namespace: METRICS_NAMESPACE, MetricName: METRIC.backupsCompleted, Dimensions: DIMENSIONS, Period: 3600, Threshold: 1, ComparisonOperator: 'LessThanThreshold', TreatMissingData: 'breaching' });
  });

  it('a composite "region unhealthy" combines every alarm and notifies the topic on alarm and on recovery', () => {
    const alarmIds = Object.keys(template.findResources('AWS::CloudWatch::Alarm'));
    expect(alarmIds).toHaveLength(9);
    const composites = template.findResources('AWS::CloudWatch::CompositeAlarm');
    expect(Object.keys(composites)).toHaveLength(1);
    const composite = Object.values(composites)[0] as { Properties: { AlarmRule: unknown; AlarmActions: unknown; OKActions: unknown } };
    const rule = JSON.stringify(composite.Properties.AlarmRule);
    for (const id of alarmIds) expect(rule).toContain(`"${id}","Arn"`);
    expect(rule).toContain(' OR ');
    expect(composite.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    expect(composite.Properties.OKActions).toEqual([{ Ref: topicId }]);
  });

  it('the topic it creates is encrypted and refuses plain HTTP', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    expect(stack.resolve(stack.region)).toBe('eu-west-1');
  });

  it('with alarmTopicName, the alarms notify that topic in the region and none is created', () => {
    const named = alarmsIn({ alarmTopicName: 'ops-pager' }).template;
    named.resourceCountIs('AWS::SNS::Topic', 0);
    const arn = 'arn:aws:sns:eu-west-1:111111111111:ops-pager';
    named.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: METRIC.syncsFailedPermanently, AlarmActions: [arn] });
    named.hasResourceProperties('AWS::CloudWatch::CompositeAlarm', { AlarmActions: [arn] });
  });
});

describe('RegionAlarms in the region stack', () => {
  let geo: TestGeoApp;
  beforeAll(() => {
    geo = buildTestApp({ replicationLagSloSeconds: 45, alarmTopicName: 'geo-alarms', backupIntervalMinutes: 90 });
  });
  afterAll(() => geo.remove());

  it('takes the objective, the backup interval and the topic from the configuration', () => {
    const template = Template.fromStack(geo.regions.get('ap-southeast-2')!);
    const dimensions = [{ Name: 'Region', Value: 'ap-southeast-2' }, { Name: 'Type', Value: 'git' }, { Name: 'service', Value: 'git-geo' }];
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: METRIC.replicationLag, Dimensions: dimensions, Threshold: 45_000 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: METRIC.backupsCompleted, Period: 180 * 60 });
    const [composite] = Object.values(template.findResources('AWS::CloudWatch::CompositeAlarm')) as { Properties: { AlarmActions: unknown } }[];
    expect(JSON.stringify(composite?.Properties.AlarmActions)).toMatch(/:sns:ap-southeast-2:.*:geo-alarms"/);
    template.resourceCountIs('AWS::SNS::Topic', 0);
  });
});
