import { describe, expect, it } from '@jest/globals';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { grantOnTableOnly, RegistryStatusIndex } from '../../../cdk/constructs/RegistryStatusIndex.ts';
import { STATUS_INDEX } from '../../../lambdas/shared/registry/statusIndex.ts';

describe('RegistryStatusIndex', () => {
  const stack = new Stack(new App(), 'Test');
  const table = new Table(stack, 'Registry', { partitionKey: { name: 'pk', type: AttributeType.STRING }, sortKey: { name: 'sk', type: AttributeType.STRING } });
  const reader = new Role(stack, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  const writer = new Role(stack, 'Writer', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  new RegistryStatusIndex(stack, 'Index', { table, readers: [reader] });
  grantOnTableOnly(table, writer, 'dynamodb:UpdateItem');
  const template = Template.fromStack(stack);

  it('indexes the registry by status and update time, projecting what the verification schedule filters on', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      GlobalSecondaryIndexes: [
        {
          IndexName: STATUS_INDEX.name,
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'updatedAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['lastVerifiedAt'] },
        },
      ],
    });
  });

  it('lets readers Query that index by name and nothing more; table-only grants never reach the indexes', () => {
    const policies = template.findResources('AWS::IAM::Policy');
    const statements = Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: { Action: unknown; Resource: unknown }[] } } }).Properties.PolicyDocument.Statement);
    const onIndex = statements.filter((statement) => JSON.stringify(statement.Resource).includes('/index/'));
    expect(onIndex).toHaveLength(1);
    expect(onIndex[0]!.Action).toBe('dynamodb:Query');
    expect(JSON.stringify(onIndex[0]!.Resource)).toContain(`/index/${STATUS_INDEX.name}`);
    expect(JSON.stringify(statements)).not.toContain('index/*');
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('Writer') }],
      PolicyDocument: { Statement: [{ Action: 'dynamodb:UpdateItem', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('Registry'), 'Arn'] } }] },
    });
  });
});
