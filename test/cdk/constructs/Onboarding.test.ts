import { describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Onboarding } from '../../../cdk/constructs/Onboarding.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements } from '../policyStatements.ts';
import { bareStack, environmentOf, logicalId, regionalDependencies, settingsOf } from './bareStack.ts';

function build(backfill?: { kind: 'gitlab'; tokenSecretName?: string }) {
  const stack = bareStack();
  const deps = regionalDependencies(stack);
  const settings = { primaryRegion: 'us-east-1', primaryUrls: ['https://gitlab.example.com'], ...(backfill === undefined ? {} : { backfill }), selectiveSyncRule: { include: ['acme'], exclude: [] } };
  const onboarding = new Onboarding(stack, 'Onboarding', { ...deps, settings });
  const template = Template.fromStack(stack);
  const id = logicalId(onboarding.function);
  return { deps, settings, template, id, statements: roleStatements(template, functionRoleId(template, id)) };
}

describe('Onboarding', () => {
  it('exists with or without a backfill source, and runs every minute', () => {
    for (const { template, id } of [build(), build({ kind: 'gitlab' })]) {
      template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)', Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } })] });
    }
  });

  it('its settings as one value; queue, bucket and registry by name; the event log only without a host listing', () => {
    const { template, id, settings, deps } = build({ kind: 'gitlab' });
    expect(settingsOf(template, id)).toEqual(settings);
    expect(environmentOf(template, id)).toMatchObject({
      QUEUE_URL: { Ref: logicalId(deps.queue.queue) },
      MIRROR_BUCKET: { Ref: logicalId(deps.store.bucket) },
      REGISTRY_TABLE: { Ref: logicalId(deps.store.registry) },
    });
    expect(environmentOf(template, id)).not.toHaveProperty('EVENT_LOG_TABLE');
    const fromEventLog = build();
    expect(environmentOf(fromEventLog.template, fromEventLog.id)).toMatchObject({ EVENT_LOG_TABLE: 'GitGeo-Primary-EventLog', EVENT_LOG_REGION: 'us-east-1' });
    const scans = fromEventLog.statements.filter((statement) => actionsOf(statement).includes('dynamodb:Scan'));
    expect(scans.flatMap(resourcesOf).map((resource) => JSON.stringify(resource))).toEqual([expect.stringContaining(':dynamodb:us-east-1:')]);
  });

  it('reconciles (deletes excluded mirrors), requests syncs, reads the override in its registry; the token secret only when one is named', () => {
    const plain = build({ kind: 'gitlab' });
    expect(plain.statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(['dynamodb:DeleteItem', 's3:DeleteObject', 'sqs:SendMessage']));
    expect(plain.statements.flatMap(actionsOf)).not.toContain('secretsmanager:GetSecretValue');
    for (const statement of plain.statements) expect(JSON.stringify(statement.Resource)).not.toContain('us-east-1');
    expect(plain.statements.flatMap(actionsOf)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:Query']));
    const withToken = build({ kind: 'gitlab', tokenSecretName: 'git-geo/gitlab-api-token' });
    const secrets = withToken.statements.filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue')).flatMap(resourcesOf);
    expect(secrets.map((arn) => JSON.stringify(arn))).toEqual([expect.stringContaining(':secret:git-geo/gitlab-api-token-??????')]);
  });
});
