import { describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Verification } from '../../../cdk/constructs/Verification.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements } from '../policyStatements.ts';
import { bareStack, environmentOf, logicalId, regionalDependencies, settingsOf } from './bareStack.ts';

describe('Verification', () => {
  const stack = bareStack();
  const deps = regionalDependencies(stack);
  const settings = { primaryRegion: 'us-east-1', primaryUrls: ['https://gitlab.example.com'], primaryCredentialsSecretName: 'git-geo/read', verifyIntervalHours: 12, maxVerificationRepairs: 2 };
  const verification = new Verification(stack, 'Verification', { ...deps, settings, memoryMiB: 1024, scheduleMinutes: 30 });
  const template = Template.fromStack(stack);
  const id = logicalId(verification.function);
  const statements = roleStatements(template, functionRoleId(template, id));

  it('runs on its schedule (due repositories) and as a watchdog every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(30 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] }, Input: JSON.stringify({ action: 'verify' }) })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] }, Input: JSON.stringify({ action: 'watchdog' }) })],
    });
  });

  it('its settings as one value; its queue, bucket and registry by name', () => {
    expect(settingsOf(template, id)).toEqual(settings);
    expect(environmentOf(template, id)).toMatchObject({
      QUEUE_URL: { Ref: logicalId(deps.queue.queue) },
      MIRROR_BUCKET: { Ref: logicalId(deps.store.bucket) },
      REGISTRY_TABLE: { Ref: logicalId(deps.store.registry) },
    });
    expect(environmentOf(template, id)).not.toHaveProperty('EVENT_LOG_TABLE');
  });

  it('reads mirrors and writes only verified-pack records and LFS objects (deletes only LFS objects); named DynamoDB actions, the status index by Query; sends to its queue', () => {
    const actions = statements.flatMap(actionsOf);
    // Its writes: the records of verified packs, and LFS objects it copies again.
    const put = statements.filter((statement) => actionsOf(statement).includes('s3:PutObject')).map((statement) => JSON.stringify(resourcesOf(statement)));
    expect(put).toHaveLength(2);
    expect(put.some((resources) => resources.includes('/.git-geo/verified-packs/*'))).toBe(true);
    expect(put.some((resources) => resources.includes('.git/lfs/objects/*'))).toBe(true);
    const registry = statements.filter((statement) => JSON.stringify(statement.Resource).includes(logicalId(deps.store.registry)));
    // Its items and their rows (lambdas/replicable/ItemRegistry.ts) on the table; the status index by Query.
    expect(new Set(registry.flatMap(actionsOf))).toEqual(new Set(['dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem']));
    const query = statements.filter((statement) => actionsOf(statement).includes('dynamodb:Query'));
    expect(query.flatMap(resourcesOf).map((resource) => JSON.stringify(resource))).toEqual(expect.arrayContaining([expect.stringContaining('/index/')]));
    const deletes = statements.filter((statement) => actionsOf(statement).includes('s3:DeleteObject'));
    for (const statement of deletes) expect(JSON.stringify(resourcesOf(statement))).toMatch(/\.git\/lfs\/objects\/\*/);
    expect(actions).toContain('sqs:SendMessage');
    for (const action of actions) expect(action).not.toMatch(/\*$/);
  });

  it("reads the primary override in its own registry (nothing of the primary region's), so mirrors are compared with a promoted host, and the configured credentials", () => {
    for (const statement of statements) expect(JSON.stringify(statement.Resource)).not.toContain('us-east-1');
    const secrets = statements.filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue')).flatMap(resourcesOf);
    expect(secrets.map((arn) => JSON.stringify(arn))).toEqual([expect.stringContaining(':secret:git-geo/read-??????')]);
  });
});
