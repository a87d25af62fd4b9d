import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { RegionStack } from '../../cdk/RegionStack.ts';
import { actionsOf, functionRoleId, roleStatements } from './policyStatements.ts';
import { buildTestApp, type TestGeoApp } from './testApp.ts';

describe('backup and disaster recovery resources', () => {
  let geo: TestGeoApp;
  let region: RegionStack;
  let template: Template;
  let primary: Template;

  beforeAll(() => {
    geo = buildTestApp({ backupIntervalMinutes: 30, backupRetention: { hourlyForHours: 12, dailyForDays: 7 }, tableBackupRetentionDays: 40 });
    region = geo.regions.get('eu-west-1')!;
    template = Template.fromStack(region);
    primary = Template.fromStack(geo.primary);
  });
  afterAll(() => geo.remove());

  const backupId = (): string => region.getLogicalId(region.backup.node.defaultChild as CfnElement);

  it('a schedule runs the backup function every backupIntervalMinutes', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(30 minutes)',
      Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [backupId(), 'Arn'] } })]),
    });
  });

  it('the backup function gets the retention policy, its bucket and registry', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ RETENTION_HOURLY_FOR_HOURS: '12', RETENTION_DAILY_FOR_DAYS: '7', MIRROR_BUCKET: Match.anyValue(), REGISTRY_TABLE: Match.anyValue() }) },
    });
  });

  it('the backup function reads the registry, writes the mirror bucket, records its run on the control item: no queues, topics or secrets', () => {
    const statements = roleStatements(template, functionRoleId(template, backupId()));
    const actions = statements.flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket', 'dynamodb:GetItem']));
    expect(actions.filter((action) => /^(sqs|sns|secretsmanager):/.test(action))).toEqual([]);
    // The last backup run is recorded on the region's control item (the status page shows it).
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'dynamodb:UpdateItem', Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['.git-geo/region'] } } }));
  });

  it('AWS Backup: a retained vault, a daily plan kept tableBackupRetentionDays, selecting the registry', () => {
    template.hasResource('AWS::Backup::BackupVault', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: { BackupPlanRule: [Match.objectLike({ ScheduleExpression: 'cron(0 3 * * ? *)', Lifecycle: { DeleteAfterDays: 40 } })] },
    });
    const registryId = region.getLogicalId(region.registry.node.defaultChild as CfnElement);
    template.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: Match.objectLike({ Resources: [{ 'Fn::GetAtt': [registryId, 'Arn'] }] }),
    });
  });

  it('AWS Backup selects the event log in the primary stack', () => {
    const eventLogId = geo.primary.getLogicalId(geo.primary.eventLog.node.defaultChild as CfnElement);
    primary.hasResourceProperties('AWS::Backup::BackupSelection', {
      BackupSelection: Match.objectLike({ Resources: [{ 'Fn::GetAtt': [eventLogId, 'Arn'] }] }),
    });
  });

  it("sync reads the primary override in its own region: no grant on the primary region's event log", () => {
    const syncId = region.getLogicalId(region.sync.node.defaultChild as CfnElement);
    const statements = roleStatements(template, functionRoleId(template, syncId));
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) expect(JSON.stringify(statement.Resource)).not.toContain(':dynamodb:us-east-1:');
  });

  it('no Object Lock unless configured; mirrorObjectLockDays turns it on in governance mode', () => {
    template.hasResourceProperties('AWS::S3::Bucket', { VersioningConfiguration: { Status: 'Enabled' }, ObjectLockEnabled: Match.absent() });
    const locked = buildTestApp({ mirrorObjectLockDays: 30 });
    try {
      Template.fromStack(locked.regions.get('eu-west-1')!).hasResourceProperties('AWS::S3::Bucket', {
        ObjectLockEnabled: true,
        ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 30 } } },
      });
    } finally {
      locked.remove();
    }
  });
});
