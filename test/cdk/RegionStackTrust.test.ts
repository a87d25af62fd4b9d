import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import type { RegionStack } from '../../cdk/RegionStack.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements } from './policyStatements.ts';
import { buildTestApp, type TestGeoApp } from './testApp.ts';

describe('RegionStack: verification, watchdog, backfill and selective sync', () => {
  let geo: TestGeoApp;
  let region: RegionStack;
  let other: RegionStack;
  let template: Template;
  const id = (construct: Construct): string => region.getLogicalId(construct.node.defaultChild as CfnElement);

  beforeAll(() => {
    geo = buildTestApp();
    region = geo.regions.get('eu-west-1')!;
    other = geo.regions.get('ap-southeast-2')!;
    template = Template.fromStack(region);
  });
  afterAll(() => geo.remove());

  it("selective sync at fan-out: the region's subscription filters on the publisher's repository and namespace attributes", () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      RawMessageDelivery: true,
      FilterPolicy: {
        repository: [{ prefix: 'acme/' }, { prefix: 'tools/' }],
        namespace: [{ 'anything-but': ['legacy'] }],
      },
    });
  });

  it('a region without a rule receives every change event: its sync queue filters out only heartbeats, its announcements queue nothing', () => {
    const subscriptions = Object.values(Template.fromStack(other).findResources('AWS::SNS::Subscription')) as { Properties: Record<string, unknown> }[];
    expect(subscriptions.map((subscription) => subscription.Properties.FilterPolicy ?? null)).toEqual(
      expect.arrayContaining([{ kind: [{ 'anything-but': ['control-plane.heartbeat'] }] }, null]),
    );
  });

  it('the sync drops events the rule excludes (the filter cannot express sub-namespace exclusions)', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'git-geo-sync', SELECTIVE_SYNC: JSON.stringify({ include: ['acme', 'tools'], exclude: ['legacy', 'acme/secret'] }) }) },
    });
  });

  it('verify runs on its schedule (due repositories) and as a watchdog every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(30 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id(region.verify), 'Arn'] }, Input: JSON.stringify({ action: 'verify' }) })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id(region.verify), 'Arn'] }, Input: JSON.stringify({ action: 'watchdog' }) })],
    });
  });

  it("verify's environment: the sync's lease, the interval, the repair cap, the ref namespaces", () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'git-geo-verify',
          SYNC_LEASE_SECONDS: '300',
          VERIFY_INTERVAL_SECONDS: String(12 * 3600),
          MAX_REPAIRS: '2',
          REF_NAMESPACES: JSON.stringify(['refs/heads/', 'refs/tags/', 'refs/merge-requests/']),
          QUEUE_URL: { Ref: id(region.queue) },
        }),
      },
    });
  });

  it('verify may read mirrors and write only verified-pack records and LFS objects: deletes only LFS objects, named DynamoDB actions, send to its queue', () => {
    const statements = roleStatements(template, functionRoleId(template, id(region.verify)));
    const actions = statements.flatMap(actionsOf);
    const deletes = statements.filter((statement) => actionsOf(statement).includes('s3:DeleteObject'));
    for (const statement of deletes) expect(JSON.stringify(resourcesOf(statement))).toMatch(/\.git\/lfs\/objects\/\*/);
    const put = statements.filter((statement) => actionsOf(statement).includes('s3:PutObject'));
    expect(put.map((statement) => JSON.stringify(resourcesOf(statement))).join(' ')).toContain('/.git-geo/verified-packs/*');
    for (const statement of put) expect(JSON.stringify(resourcesOf(statement))).toMatch(/\/\.git-geo\/verified-packs\/\*|\.git\/lfs\/objects\/\*/);
    const dynamo = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('dynamodb:')));
    expect(dynamo.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    expect(actions).toContain('sqs:SendMessage');
    for (const action of actions) expect(action).not.toMatch(/\*$/);
  });

  it('backfill: its source (API URL defaulting to the primary), the rule, and an onboarding schedule every minute', () => {
    const backfill = region.backfill!;
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          POWERTOOLS_SERVICE_NAME: 'git-geo-backfill',
          BACKFILL_SOURCE: Match.stringLikeRegexp('"apiUrl":"https://gitlab.example.com"'),
          SELECTIVE_SYNC: Match.stringLikeRegexp('acme/secret'),
        }),
      },
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id(backfill), 'Arn'] } })],
    });
    const statements = roleStatements(template, functionRoleId(template, id(backfill)));
    expect(statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(['secretsmanager:GetSecretValue', 'dynamodb:DeleteItem', 'sqs:SendMessage']));
  });

  it('outputs the sync and verify function names, for pause/resume and git-geo verify', () => {
    template.hasOutput('SyncFunctionName', { Value: { Ref: id(region.sync) } });
    template.hasOutput('VerifyFunctionName', { Value: { Ref: id(region.verify) } });
  });
});
