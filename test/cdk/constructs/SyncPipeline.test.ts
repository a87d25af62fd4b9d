import { describe, expect, it } from '@jest/globals';
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SyncPipeline } from '../../../cdk/constructs/SyncPipeline.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements } from '../policyStatements.ts';
import { bareStack, environmentOf, logicalId, regionalDependencies, settingsOf } from './bareStack.ts';

describe('SyncPipeline', () => {
  const stack = bareStack();
  const deps = regionalDependencies(stack);
  const settings = {
    primaryRegion: 'us-east-1',
    primaryUrls: ['https://gitlab.example.com'],
    primaryCredentialsSecretName: 'git-geo/read',
    promotionCredentialsSecretName: 'git-geo/promote',
    primaryTimeoutSeconds: 7,
    syncTimeoutSeconds: 300,
  };
  const pipeline = new SyncPipeline(stack, 'Pipeline', { ...deps, settings, timeout: Duration.seconds(300), memoryMiB: 1024, ephemeralStorageMiB: 2048, batchSize: 4, maxConcurrency: 7 });
  const template = Template.fromStack(stack);
  const id = logicalId(pipeline.function);
  const statements = roleStatements(template, functionRoleId(template, id));

  it('the function gets its settings as one value, and its resources by name', () => {
    expect(settingsOf(template, id)).toEqual(settings);
    expect(environmentOf(template, id)).toMatchObject({
      REGISTRY_TABLE: { Ref: logicalId(deps.store.registry) },
      MIRROR_BUCKET: { Ref: logicalId(deps.store.bucket) },
      QUEUE_URL: { Ref: logicalId(deps.queue.queue) },
      DEAD_LETTER_QUEUE_URL: { Ref: logicalId(deps.queue.deadLetterQueue) },
      POWERTOOLS_SERVICE_NAME: 'git-geo-sync',
    });
    expect(environmentOf(template, id)).not.toHaveProperty('EVENT_LOG_TABLE');
    expect(environmentOf(template, id)).not.toHaveProperty('NODE_OPTIONS');
  });

  it("the queue triggers it; its timeout is the queue's visibility timeout; arm64, Node.js 24", () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { FunctionName: { Ref: id }, BatchSize: 4, ScalingConfig: { MaximumConcurrency: 7 } });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 300, MemorySize: 1024, EphemeralStorage: { Size: 2048 }, Runtime: 'nodejs24.x', Architectures: ['arm64'] });
  });

  it('writes mirrors with named S3 actions on its bucket; sends only to the dead-letter queue', () => {
    const s3 = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('s3:')));
    expect(s3.flatMap(actionsOf)).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket']));
    for (const resource of s3.flatMap(resourcesOf)) expect(JSON.stringify(resource)).toContain(logicalId(deps.store.bucket));
    for (const action of statements.flatMap(actionsOf)) expect(action).not.toBe('*');
    const sends = statements.filter((statement) => actionsOf(statement).includes('sqs:SendMessage'));
    expect(sends.flatMap(resourcesOf)).toEqual([{ 'Fn::GetAtt': [logicalId(deps.queue.deadLetterQueue), 'Arn'] }]);
  });

  it("reads the primary override in its own region (its registry), nothing of the primary region's, and exactly the two configured secrets, in its region", () => {
    for (const statement of statements) expect(JSON.stringify(statement.Resource)).not.toContain('us-east-1');
    const secrets = statements.filter((statement) => actionsOf(statement).includes('secretsmanager:GetSecretValue')).flatMap(resourcesOf).map((resource) => JSON.stringify(resource));
    expect(secrets).toHaveLength(2);
    expect(secrets.some((arn) => arn.includes(':secret:git-geo/read-??????'))).toBe(true);
    expect(secrets.some((arn) => arn.includes(':secret:git-geo/promote-??????'))).toBe(true);
  });
});
