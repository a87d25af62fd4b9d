import { describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Backups } from '../../../cdk/constructs/Backups.ts';
import { MirrorStore } from '../../../cdk/constructs/MirrorStore.ts';
import { actionsOf, functionRoleId, roleStatements } from '../policyStatements.ts';
import { bareStack, environmentOf, logicalId, settingsOf } from './bareStack.ts';

describe('Backups', () => {
  const stack = bareStack();
  const store = new MirrorStore(stack, 'Store', { noncurrentVersionDays: 30, tombstoneRetentionDays: 90 });
  const settings = { backupRetention: { hourlyForHours: 12, dailyForDays: 7 } };
  const backups = new Backups(stack, 'Backups', { store, settings, intervalMinutes: 30, tableBackupRetentionDays: 40 });
  const template = Template.fromStack(stack);
  const id = logicalId(backups.function);

  it('a schedule runs the backup function every intervalMinutes; retention as its settings', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)', Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [id, 'Arn'] } })]) });
    expect(settingsOf(template, id)).toEqual(settings);
    expect(environmentOf(template, id)).toMatchObject({ MIRROR_BUCKET: { Ref: logicalId(store.bucket) }, REGISTRY_TABLE: { Ref: logicalId(store.registry) } });
  });

  it('reads the registry (by the status index), writes the bucket, records its run on the control item: no queues, topics or secrets', () => {
    const statements = roleStatements(template, functionRoleId(template, id));
    const actions = statements.flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket', 'dynamodb:GetItem', 'dynamodb:Query']));
    expect(actions.filter((action) => /^(sqs|sns|secretsmanager):/.test(action))).toEqual([]);
    expect(actions.filter((action) => /^dynamodb:(PutItem|DeleteItem|Scan)$/.test(action))).toEqual([]);
    // The last backup run is recorded on the region's control item (the status page shows it).
    expect(statements).toContainEqual(expect.objectContaining({ Action: 'dynamodb:UpdateItem', Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['.git-geo/region'] } } }));
  });

  it('AWS Backup: a retained vault, a daily plan kept tableBackupRetentionDays, selecting the registry', () => {
    template.hasResource('AWS::Backup::BackupVault', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::Backup::BackupPlan', {
      BackupPlan: { BackupPlanRule: [Match.objectLike({ ScheduleExpression: 'cron(0 3 * * ? *)', Lifecycle: { DeleteAfterDays: 40 } })] },
    });
    template.hasResourceProperties('AWS::Backup::BackupSelection', { BackupSelection: Match.objectLike({ Resources: [{ 'Fn::GetAtt': [logicalId(store.registry), 'Arn'] }] }) });
  });
});
