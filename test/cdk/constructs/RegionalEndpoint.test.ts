import { describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RegionalEndpoint } from '../../../cdk/constructs/RegionalEndpoint.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements, type Statement } from '../policyStatements.ts';
import { bareStack, environmentOf, logicalId, regionalDependencies, settingsOf } from './bareStack.ts';

describe('RegionalEndpoint', () => {
  const stack = bareStack();
  const { store, primary } = regionalDependencies(stack);
  const settings = { primaryUrls: ['https://gitlab.example.com'], primaryTimeoutSeconds: 7, accessCacheSeconds: 45, readMode: 'read-only' as const };
  const endpoint = new RegionalEndpoint(stack, 'Endpoint', { store, primary, settings, localUrlPath: '/eu-west-1' });
  const template = Template.fromStack(stack);
  const id = logicalId(endpoint.function);
  const statements = roleStatements(template, functionRoleId(template, id));

  it('runs the endpoint factory, mounted locally at its path, with its settings as one value and its resources by name', () => {
    template.hasResource('AWS::Lambda::Function', {
      Metadata: Match.objectLike({ 'git-geo:handler-factory': 'lambdas/endpoint/createEndpointHandler.ts#createEndpointHandler', 'git-geo:local-url-path': '/eu-west-1' }),
    });
    expect(settingsOf(template, id)).toEqual(settings);
    expect(environmentOf(template, id)).toMatchObject({
      REGISTRY_TABLE: { Ref: logicalId(store.registry) },
      MIRROR_BUCKET: { Ref: logicalId(store.bucket) },
      EVENT_LOG_TABLE: 'GitGeo-Primary-EventLog',
      EVENT_LOG_REGION: 'us-east-1',
    });
  });

  it('a Function URL with no IAM auth (callers are checked against the primary) that streams', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM', TargetFunctionArn: { 'Fn::GetAtt': [id, 'Arn'] } });
  });

  it('reads the bucket and never writes it; reads the registry and may update only the write-pending marker', () => {
    const s3 = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('s3:')));
    expect(s3.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket']);
    const onRegistry = statements.filter((statement) => resourcesOf(statement).some((resource) => JSON.stringify(resource).includes(logicalId(store.registry))));
    expect(onRegistry.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    const update = onRegistry.find((statement) => actionsOf(statement).includes('dynamodb:UpdateItem'))!;
    expect(update.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'writePendingAt'] },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
    });
  });

  it("reads only the head items' sequence attributes and the override from the primary's event log", () => {
    const onEventLog = statements.filter((statement) => JSON.stringify(statement.Resource).includes('table/GitGeo-Primary-EventLog'));
    expect(onEventLog).toHaveLength(2);
    const heads = onEventLog.find((statement) => JSON.stringify(statement.Condition).includes('repo#')) as Statement;
    expect(heads.Condition).toEqual({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['repo#*'] },
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'latestSequence', 'latestReceivedAt'] },
      StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
    });
    const override = onEventLog.find((statement) => JSON.stringify(statement.Condition).includes('"primary"')) as Statement;
    expect(override.Condition).toEqual({ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['primary'] } });
    for (const statement of onEventLog) expect(actionsOf(statement)).toEqual(['dynamodb:GetItem']);
  });

  it("no secrets, queues or topics: it asks the primary with the caller's own credentials", () => {
    const actions = statements.flatMap(actionsOf);
    expect(actions.filter((action) => /^(secretsmanager|sqs|sns|kms):/.test(action))).toEqual([]);
    for (const action of actions) expect(action).not.toMatch(/\*/);
  });
});
