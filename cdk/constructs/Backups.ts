import { Duration, type CfnResource } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { z } from 'zod';
import type { BackupSettings } from '../../lambdas/backup/settings.ts';
import { REGION_CONTROL_KEY } from '../../lambdas/shared/registry/RegionControl.ts';
import { GeoFunction } from './GeoFunction.ts';
import type { MirrorStore } from './MirrorStore.ts';
import { TableBackupPlan } from './TableBackupPlan.ts';

export interface BackupsProps {
  readonly store: MirrorStore;
  readonly settings: z.input<typeof BackupSettings>;
  /** Minutes between snapshots. */
  readonly intervalMinutes: number;
  /** Days AWS Backup keeps the registry's daily recovery points. */
  readonly tableBackupRetentionDays: number;
  /** The vault's logical id to keep (it is retained: a new id would orphan the old vault). */
  readonly vaultLogicalId?: string;
}

/**
 * A region's backups: point-in-time snapshots of every mirror (manifests of refs and pack
 * names; no data copied) and the pack garbage collector, on a schedule; and, besides PITR,
 * daily AWS Backup recovery points of the registry, kept apart from the table.
 */
export class Backups extends Construct {
  readonly function: GeoFunction;
  readonly schedule: Rule;
  readonly registryBackups: TableBackupPlan;

  constructor(scope: Construct, id: string, props: BackupsProps) {
    super(scope, id);
    this.registryBackups = new TableBackupPlan(this, 'RegistryBackups', { tables: [props.store.registry], retentionDays: props.tableBackupRetentionDays });
    if (props.vaultLogicalId !== undefined) (this.registryBackups.vault.node.defaultChild as CfnResource).overrideLogicalId(props.vaultLogicalId);
    this.function = new GeoFunction(this, 'Backup', {
      lambda: 'backup',
      description: "git-geo: point-in-time snapshots of this region's mirrors, retention and pack garbage collection",
      timeout: Duration.minutes(15),
      memorySize: 1024,
      settings: props.settings,
    });
    props.store.grantReadWrite(this.function);
    // Reads each repository's item and takes its lease while it reads the mirror; lists them by the status index.
    props.store.grantRegistry(this.function, 'dynamodb:GetItem', 'dynamodb:UpdateItem');
    props.store.grantStatusIndexQuery(this.function);
    // Its other write: the region's control item records the last backup run (the status page shows it).
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [props.store.registry.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [REGION_CONTROL_KEY.pk] } },
      }),
    );
    this.schedule = new Rule(this, 'Schedule', {
      description: "git-geo: snapshot every mirror of this region and collect unreferenced packs",
      schedule: Schedule.rate(Duration.minutes(props.intervalMinutes)),
      targets: [new LambdaFunction(this.function, { retryAttempts: 2 })],
    });
  }
}
