import { describe, expect, it } from '@jest/globals';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ChangeQueue } from '../../../cdk/constructs/ChangeQueue.ts';
import { GeoFunction } from '../../../cdk/constructs/GeoFunction.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements, type Statement } from '../policyStatements.ts';
import { bareStack, environmentOf, logicalId } from './bareStack.ts';

function build(rule = { include: [] as string[], exclude: [] as string[] }) {
  const stack = bareStack();
  const changes = new ChangeQueue(stack, 'Changes', {
    primaryRegion: 'us-east-1',
    changeTopicName: 'GitGeo-Primary-ChangeEvents.fifo',
    visibilityTimeout: Duration.seconds(300),
    maxReceiveCount: 5,
    selectiveSyncRule: rule,
  });
  const consumer = new GeoFunction(stack, 'Consumer', { lambda: 'sync', settings: {} });
  changes.addConsumer(consumer, { batchSize: 4, maxConcurrency: 7 });
  changes.grantSendDeadLetters(consumer);
  const sender = new GeoFunction(stack, 'Sender', { lambda: 'verify', settings: {} });
  changes.grantSend(sender);
  return { stack, changes, consumer, sender, template: Template.fromStack(stack) };
}

describe('ChangeQueue', () => {
  const { changes, consumer, sender, template } = build();

  it('FIFO, SQS-managed encryption, redriven to a FIFO dead-letter queue after maxReceiveCount deliveries', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 300,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(changes.deadLetterQueue), 'Arn'] }, maxReceiveCount: 5 },
    });
    const deadLetters = template.toJSON().Resources[logicalId(changes.deadLetterQueue)] as { Properties: Record<string, unknown> };
    expect(deadLetters.Properties).toMatchObject({ FifoQueue: true, SqsManagedSseEnabled: true });
    expect(deadLetters.Properties).not.toHaveProperty('RedrivePolicy');
  });

  it("subscribes to the primary's topic in the primary region, raw delivery, filtering out only heartbeats when the rule holds everything", () => {
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      RawMessageDelivery: true,
      Region: 'us-east-1',
      Endpoint: { 'Fn::GetAtt': [logicalId(changes.queue), 'Arn'] },
      FilterPolicy: { kind: [{ 'anything-but': ['control-plane.heartbeat'] }] },
    });
    const [subscription] = Object.values(template.findResources('AWS::SNS::Subscription')) as { Properties: { TopicArn: unknown } }[];
    const arn = JSON.stringify(subscription?.Properties.TopicArn);
    expect(arn).toContain('arn:aws:sns:us-east-1:');
    expect(arn).toContain(':GitGeo-Primary-ChangeEvents.fifo"');
  });

  it('the queue policy lets only SNS send, and only from the primary topic', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
    const allows = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement).filter((statement) => statement.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({ Principal: { Service: 'sns.amazonaws.com' }, Action: 'sqs:SendMessage' });
    expect(JSON.stringify(allows[0]!.Condition)).toContain('GitGeo-Primary-ChangeEvents.fifo');
  });

  it("a selective-sync rule becomes the subscription's filter policy", () => {
    build({ include: ['acme', 'tools'], exclude: ['legacy', 'acme/secret'] }).template.hasResourceProperties('AWS::SNS::Subscription', {
      FilterPolicy: { repository: [{ prefix: 'acme/' }, { prefix: 'tools/' }], namespace: [{ 'anything-but': ['legacy'] }], kind: [{ 'anything-but': ['control-plane.heartbeat'] }] },
    });
  });

  it("with a standby control plane, the queue subscribes to its topic too, in the standby's region", () => {
    const stack = bareStack();
    const withStandby = new ChangeQueue(stack, 'Changes', {
      primaryRegion: 'us-east-1',
      changeTopicName: 'GitGeo-Primary-ChangeEvents.fifo',
      standbyTopic: { region: 'eu-central-1', name: 'GitGeo-ControlPlane-eu-central-1-ChangeEvents.fifo' },
      visibilityTimeout: Duration.seconds(300),
      maxReceiveCount: 5,
      selectiveSyncRule: { include: [], exclude: [] },
    });
    const standby = Template.fromStack(stack);
    standby.resourceCountIs('AWS::SNS::Subscription', 2);
    standby.hasResourceProperties('AWS::SNS::Subscription', { Region: 'eu-central-1', Endpoint: { 'Fn::GetAtt': [logicalId(withStandby.queue), 'Arn'] } });
    expect(withStandby.topics).toHaveLength(2);
  });

  it('addConsumer: an event source with partial batch responses, batch size and maximum concurrency, and QUEUE_URL', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(changes.queue), 'Arn'] },
      FunctionName: { Ref: logicalId(consumer) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 4,
      ScalingConfig: { MaximumConcurrency: 7 },
    });
    expect(environmentOf(template, logicalId(consumer))).toMatchObject({
      QUEUE_URL: { Ref: logicalId(changes.queue) },
      DEAD_LETTER_QUEUE_URL: { Ref: logicalId(changes.deadLetterQueue) },
    });
  });

  it('grantSendDeadLetters: the consumer may send to the dead-letter queue only; grantSend: the sender to the queue only', () => {
    const sends = (fn: GeoFunction) =>
      roleStatements(template, functionRoleId(template, logicalId(fn))).filter((statement) => actionsOf(statement).includes('sqs:SendMessage')).flatMap(resourcesOf);
    expect(sends(consumer)).toEqual([{ 'Fn::GetAtt': [logicalId(changes.deadLetterQueue), 'Arn'] }]);
    expect(sends(sender)).toEqual([{ 'Fn::GetAtt': [logicalId(changes.queue), 'Arn'] }]);
    expect(environmentOf(template, logicalId(sender))).toMatchObject({ QUEUE_URL: { Ref: logicalId(changes.queue) } });
  });
});
