import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import { changeTopicName, eventLogTableName } from '../../cdk/PrimaryStack.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements } from './policyStatements.ts';
import { settingsOf } from './constructs/bareStack.ts';
import { buildTestApp, type TestGeoApp } from './testApp.ts';

describe('PrimaryStack', () => {
  let geo: TestGeoApp;
  let template: Template;
  const id = (construct: Construct): string => geo.primary.getLogicalId(construct.node.defaultChild as CfnElement);

  beforeAll(() => {
    geo = buildTestApp();
    template = Template.fromStack(geo.primary);
  });
  afterAll(() => geo.remove());

  it('deploys to the primary region', () => {
    expect(geo.primary.region).toBe('us-east-1');
    expect(geo.primary.stackName).toBe('GitGeo-Primary');
  });

  it('event log: pk/sk string keys, point-in-time recovery, TTL on `expiration`, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        AttributeDefinitions: Match.arrayWith([
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ]),
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('change topic: FIFO, no content-based deduplication, KMS-encrypted, named from the stack name', () => {
    template.resourceCountIs('AWS::SNS::Topic', 1);
    template.hasResourceProperties('AWS::SNS::Topic', {
      FifoTopic: true,
      ContentBasedDeduplication: false,
      KmsMasterKeyId: Match.anyValue(),
      TopicName: 'GitGeo-Primary-ChangeEvents.fifo',
    });
    expect(changeTopicName(geo.primary.stackName)).toBe('GitGeo-Primary-ChangeEvents.fifo');
  });

  it('the topic name follows the stack prefix, and ends in .fifo', () => {
    const other = buildTestApp({ stackPrefix: 'Acme-Geo' });
    try {
      const topics = Template.fromStack(other.primary).findResources('AWS::SNS::Topic');
      const [topic] = Object.values(topics) as { Properties: { TopicName: string } }[];
      expect(topic?.Properties.TopicName).toBe('Acme-Geo-Primary-ChangeEvents.fifo');
      expect(topic?.Properties.TopicName).toMatch(/\.fifo$/);
    } finally {
      other.remove();
    }
  });

  it('the event log is named from the stack name, so regional endpoints can read it across regions', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'GitGeo-Primary-EventLog' });
    expect(eventLogTableName(geo.primary.stackName)).toBe('GitGeo-Primary-EventLog');
    const other = buildTestApp({ stackPrefix: 'Acme-Geo' });
    try {
      Template.fromStack(other.primary).hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'Acme-Geo-Primary-EventLog' });
    } finally {
      other.remove();
    }
  });

  it('no other table, queue or bucket in any stack has a hard-coded name', () => {
    const stacks = [geo.primary, ...geo.regions.values()];
    let checked = 0;
    for (const stack of stacks) {
      const stackTemplate = stack === geo.primary ? template : Template.fromStack(stack);
      for (const [type, property] of [
        ['AWS::DynamoDB::Table', 'TableName'],
        ['AWS::SQS::Queue', 'QueueName'],
        ['AWS::S3::Bucket', 'BucketName'],
      ] as const) {
        for (const [logicalId, resource] of Object.entries(stackTemplate.findResources(type)) as [string, { Properties?: Record<string, unknown> }][]) {
          if (stack === geo.primary && logicalId === id(geo.primary.eventLog)) continue;
          expect(resource.Properties ?? {}).not.toHaveProperty(property);
          checked++;
        }
      }
    }
    // Per region three buckets (mirrors, their access logs, pack downloads), a table and four queues (change events and announcements, each with its dead letters).
    expect(checked).toBe(geo.regions.size * 8);
  });

  it('notify: Node.js 24 on arm64, with its tables, topic, secret and primaries in the environment', () => {
    // notify and the republisher.
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          EVENT_LOG_TABLE: { Ref: id(geo.primary.eventLog) },
          TOPIC_ARN: { Ref: id(geo.primary.topic) },
        }),
      },
    });
    expect(settingsOf(template, id(geo.primary.notify))).toMatchObject({
      webhookSecretName: 'git-geo/webhook-secret',
      primaryUrls: ['https://gitlab.example.com', 'https://gitlab-mirror.example.com:8443'],
      // The replay guard's defaults, from GeoConfig.
      webhookReplayWindowSeconds: 86_400,
      maxEventsPerRepositoryPerSecond: 20,
    });
  });

  it('AWS Backup selects the event log', () => {
    template.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: Match.objectLike({ Resources: [{ 'Fn::GetAtt': [id(geo.primary.eventLog), 'Arn'] }] }),
    });
  });

  it('notify has a Function URL with AuthType NONE (the handler authenticates each host itself)', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [id(geo.primary.notify), 'Arn'] },
    });
  });

  it("notify's policy: sns:Publish on the topic, DynamoDB on the event log, the webhook secret and nothing else", () => {
    const statements = roleStatements(template, functionRoleId(template, id(geo.primary.notify)));
    expect(statements.length).toBeGreaterThan(0);
    const topic = { Ref: id(geo.primary.topic) };
    const eventLog = { 'Fn::GetAtt': [id(geo.primary.eventLog), 'Arn'] };
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      const resources = resourcesOf(statement);
      expect(resources).not.toContain('*');
      for (const action of actionsOf(statement)) {
        const service = action.split(':')[0];
        if (service === 'sns') {
          expect(action).toBe('sns:Publish');
          expect(resources).toEqual([topic]);
        } else if (service === 'dynamodb') {
          expect(action).not.toContain('*');
          expect(resources).toEqual([eventLog]);
        } else if (service === 'secretsmanager') {
          expect(['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']).toContain(action);
          expect(resources).toHaveLength(1);
          expect(JSON.stringify(resources[0])).toMatch(/:secret:git-geo\/webhook-secret-\?{6}"/);
        } else {
          throw new Error(`notify may not ${action}`);
        }
      }
    }
    const all = statements.flatMap(actionsOf);
    expect(all).toContain('sns:Publish');
    expect(all).toContain('secretsmanager:GetSecretValue');
    expect(all).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']));
  });

  it('event log: a sparse index of unpublished events, keyed by publishPending and receivedAt', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: 'Unpublished',
          KeySchema: [
            { AttributeName: 'publishPending', KeyType: 'HASH' },
            { AttributeName: 'receivedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    });
  });

  it('republisher: runs every minute, with the event log, the topic and the configured age in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          EVENT_LOG_TABLE: { Ref: id(geo.primary.eventLog) },
          TOPIC_ARN: { Ref: id(geo.primary.topic) },
        }),
      },
    });
    expect(settingsOf(template, id(geo.primary.republish))).toEqual({ republishAfterSeconds: 60 });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id(geo.primary.republish), 'Arn'] } })],
    });
  });

  it("the republisher's policy: publish to the topic, query only the Unpublished index, update events; nothing else", () => {
    const statements = roleStatements(template, functionRoleId(template, id(geo.primary.republish)));
    const eventLogArn = { 'Fn::GetAtt': [id(geo.primary.eventLog), 'Arn'] };
    const all = statements.flatMap(actionsOf);
    expect(new Set(all)).toEqual(new Set(['sns:Publish', 'dynamodb:Query', 'dynamodb:UpdateItem']));
    for (const statement of statements) {
      for (const action of actionsOf(statement)) {
        if (action === 'sns:Publish') expect(resourcesOf(statement)).toEqual([{ Ref: id(geo.primary.topic) }]);
        if (action === 'dynamodb:UpdateItem') expect(resourcesOf(statement)).toEqual([eventLogArn]);
        if (action === 'dynamodb:Query') expect(resourcesOf(statement)).toEqual([{ 'Fn::Join': ['', [eventLogArn, '/index/Unpublished']] }]);
      }
    }
  });
});
