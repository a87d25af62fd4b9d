import { describe, expect, it } from '@jest/globals';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { RegionalAnnouncements, syncFilterPolicy } from '../../../cdk/constructs/RegionalAnnouncements.ts';
import { testApp } from '../testApp.ts';

function build(rule: { include: string[]; exclude: string[] }): Template {
  const stack = new Stack(testApp(), 'Region', { env: { account: '123456789012', region: 'eu-west-1' } });
  const registry = new Table(stack, 'Registry', { partitionKey: { name: 'pk', type: AttributeType.STRING }, sortKey: { name: 'sk', type: AttributeType.STRING } });
  const topic = Topic.fromTopicArn(stack, 'Topic', 'arn:aws:sns:us-east-1:123456789012:GitGeo-Primary-ChangeEvents.fifo');
  new RegionalAnnouncements(stack, 'Announcements', { topics: [topic], registry, settings: { selectiveSyncRule: rule, primaryRegion: 'us-east-1' } });
  return Template.fromStack(stack);
}

describe('RegionalAnnouncements', () => {
  const template = build({ include: [], exclude: [] });

  it('a FIFO queue with its own dead letters, subscribed with raw delivery and no filter when the region holds everything', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, SqsManagedSseEnabled: true, RedrivePolicy: Match.objectLike({ maxReceiveCount: 10 }) });
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'sqs', RawMessageDelivery: true, Region: 'us-east-1', FilterPolicy: Match.absent() });
  });

  it('the announce function reads the queue with partial batch failures, and names its registry; its settings carry the control plane and the rule', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionResponseTypes: ['ReportBatchItemFailures'], BatchSize: 10 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'git-geo-announce',
          REGISTRY_TABLE: Match.anyValue(),
          GIT_GEO_SETTINGS: JSON.stringify({ selectiveSyncRule: { include: [], exclude: [] }, primaryRegion: 'us-east-1' }),
        }),
      },
    });
  });

  it('may only update the announcement and heartbeat attributes of the registry', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Condition?: unknown }[] } } }[];
    const dynamo = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement).filter((statement) => [statement.Action].flat().some((action) => action.startsWith('dynamodb:')));
    expect(dynamo).toHaveLength(1);
    expect(dynamo[0]!.Action).toBe('dynamodb:UpdateItem');
    expect(dynamo[0]!.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'announcedSequence', 'announcedAt', 'repository', 'replicable', 'status', 'controlPlaneHeardAt', 'controlPlaneRegion', 'activeControlPlaneRegion'] },
    });
  });

  it('with an include rule, heartbeats are let through beside the included namespaces', () => {
    build({ include: ['acme'], exclude: ['legacy'] }).hasResourceProperties('AWS::SNS::Subscription', {
      FilterPolicy: { repository: [{ prefix: 'acme/' }, { prefix: '.git-geo/' }], namespace: [{ 'anything-but': ['legacy'] }] },
    });
  });

  it("the sync queue's filter keeps heartbeats out, on top of the selective-sync rule", () => {
    const policy = Object.fromEntries(Object.entries(syncFilterPolicy({ include: ['acme'], exclude: [] })).map(([name, filter]) => [name, filter.conditions]));
    expect(policy).toEqual({ repository: [{ prefix: 'acme/' }], kind: [{ 'anything-but': ['control-plane.heartbeat'] }] });
  });
});
