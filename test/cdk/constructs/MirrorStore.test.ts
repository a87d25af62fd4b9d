import { describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { GeoFunction } from '../../../cdk/constructs/GeoFunction.ts';
import { MirrorStore } from '../../../cdk/constructs/MirrorStore.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements } from '../policyStatements.ts';
import { bareStack, environmentOf, logicalId } from './bareStack.ts';

function build(objectLockDays?: number) {
  const stack = bareStack();
  const store = new MirrorStore(stack, 'Store', { noncurrentVersionDays: 30, tombstoneRetentionDays: 45, ...(objectLockDays === undefined ? {} : { objectLockDays }) });
  const reader = new GeoFunction(stack, 'Reader', { lambda: 'endpoint', settings: {} });
  store.grantRead(reader);
  store.grantRegistry(reader, 'dynamodb:GetItem');
  const writer = new GeoFunction(stack, 'Writer', { lambda: 'sync', settings: {} });
  store.grantReadWrite(writer);
  store.grantRegistryReadWrite(writer);
  return { store, reader, writer, template: Template.fromStack(stack) };
}

describe('MirrorStore', () => {
  const { store, reader, writer, template } = build();
  const statements = (fn: GeoFunction) => roleStatements(template, functionRoleId(template, logicalId(fn)));

  it('mirror bucket: versioned, encrypted, every public-access block on, access-logged, retained', () => {
    const mirror = template.toJSON().Resources[logicalId(store.bucket)] as { Properties: Record<string, unknown>; DeletionPolicy: string };
    expect(mirror.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(mirror.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(mirror.Properties.BucketEncryption).toBeDefined();
    expect(mirror.Properties.LoggingConfiguration).toMatchObject({ DestinationBucketName: { Ref: logicalId(store.accessLogs) } });
    expect(mirror.DeletionPolicy).toBe('Retain');
  });

  it('the bucket policy denies requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(store.bucket) },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('tombstones expire after tombstoneRetentionDays; no Object Lock unless asked, governance mode when asked', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: Match.absent(),
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-tombstones', Prefix: '.git-geo/tombstones/', ExpirationInDays: 45 })]) },
    });
    build(30).template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } } },
    });
  });

  it('registry: point-in-time recovery, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      DeletionPolicy: 'Retain',
    });
  });

  it('grantRead: MIRROR_BUCKET and named read actions on the bucket only', () => {
    expect(environmentOf(template, logicalId(reader))).toMatchObject({ MIRROR_BUCKET: { Ref: logicalId(store.bucket) }, REGISTRY_TABLE: { Ref: logicalId(store.registry) } });
    const s3 = statements(reader).filter((statement) => actionsOf(statement).some((action) => action.startsWith('s3:')));
    expect(s3.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket']);
    for (const resource of s3.flatMap(resourcesOf)) expect(JSON.stringify(resource)).toContain(logicalId(store.bucket));
    expect(statements(reader).filter((statement) => actionsOf(statement).some((action) => action.startsWith('dynamodb:'))).flatMap(actionsOf)).toEqual(['dynamodb:GetItem']);
  });

  it('grantReadWrite: named actions, no wildcard action', () => {
    const actions = statements(writer).flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket', 'dynamodb:PutItem']));
    for (const action of actions.filter((candidate) => candidate.startsWith('s3:'))) expect(action).not.toMatch(/\*/);
  });
});
