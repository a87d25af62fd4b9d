import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { actionsOf, functionRoleId, roleStatements } from '../policyStatements.ts';
import { buildTestApp, type TestGeoApp } from '../testApp.ts';

describe('StatusPage', () => {
  let geo: TestGeoApp;
  let template: Template;
  let functionId: string;

  beforeAll(() => {
    geo = buildTestApp({ replicationLagSloSeconds: 45, statusPageRefreshSeconds: 20 });
    template = Template.fromStack(geo.regions.get('eu-west-1')!);
    functionId = Object.entries(template.findResources('AWS::Lambda::Function', { Properties: { Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'git-geo-status' }) } } })).map(([id]) => id)[0]!;
  });
  afterAll(() => geo.remove());

  it('every region serves the page behind a Function URL with IAM auth', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM', TargetFunctionArn: { 'Fn::GetAtt': [functionId, 'Arn'] } });
    Template.fromStack(geo.regions.get('ap-southeast-2')!).hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
    expect(Object.keys((template.toJSON() as { Outputs: Record<string, unknown> }).Outputs)).toContain('StatusPageUrl');
  });

  it('gets every region in order with its stack, the objective and the refresh', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          GIT_GEO_SETTINGS: Match.serializedJson(
            Match.objectLike({
              regionStacks: [
                { region: 'eu-west-1', stackName: 'GitGeo-Region-eu-west-1' },
                { region: 'ap-southeast-2', stackName: 'GitGeo-Region-ap-southeast-2' },
              ],
              replicationLagSloSeconds: 45,
              statusPageRefreshSeconds: 20,
            }),
          ),
        }),
      },
    });
  });

  it('only reads: the registry, queue depths, and the other regions through their stacks', () => {
    const statements = roleStatements(template, functionRoleId(template, functionId));
    const actions = statements.flatMap(actionsOf);
    expect(new Set(actions)).toEqual(new Set(['dynamodb:Scan', 'dynamodb:GetItem', 'sqs:GetQueueAttributes', 'cloudformation:DescribeStacks']));
    const other = JSON.stringify(statements.filter((statement) => actionsOf(statement).includes('cloudformation:DescribeStacks')));
    expect(other).toContain(':cloudformation:ap-southeast-2:');
    expect(other).toContain('stack/GitGeo-Region-ap-southeast-2/*');
    expect(other).not.toContain('eu-west-1');
  });
});
