import { ArnFormat, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { GeoFunction } from './GeoFunction.ts';

export interface PrimaryResourcesProps {
  readonly primaryRegion: string;
  /** Name of the primary's event log table (in the primary region, same account). */
  readonly eventLogTableName: string;
}

/**
 * What a secondary region's functions read in the primary region, across regions and without
 * exports: the event log (the primary override `git-geo promote` writes, the newest event of a
 * repository) and Secrets Manager secrets by name.
 */
export class PrimaryResources extends Construct {
  readonly primaryRegion: string;
  readonly eventLogTableName: string;
  readonly eventLogArn: string;

  constructor(scope: Construct, id: string, props: PrimaryResourcesProps) {
    super(scope, id);
    this.primaryRegion = props.primaryRegion;
    this.eventLogTableName = props.eventLogTableName;
    this.eventLogArn = Stack.of(this).formatArn({ service: 'dynamodb', region: props.primaryRegion, resource: 'table', resourceName: props.eventLogTableName });
  }

  private bindEventLog(fn: GeoFunction): void {
    fn.setResource('EVENT_LOG_TABLE', this.eventLogTableName).setResource('EVENT_LOG_REGION', this.primaryRegion);
  }

  /** The runtime primary override `git-geo promote` writes: one item of the event log. */
  grantReadPrimaryOverride(fn: GeoFunction): void {
    this.bindEventLog(fn);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [this.eventLogArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['primary'] } },
      }),
    );
  }

  /** The newest event of a repository: head items only, two attributes. */
  grantReadRepositoryHeads(fn: GeoFunction): void {
    this.bindEventLog(fn);
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [this.eventLogArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['repo#*'] },
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'latestSequence', 'latestReceivedAt'] },
          StringEqualsIfExists: { 'dynamodb:Select': 'SPECIFIC_ATTRIBUTES' },
        },
      }),
    );
  }

  /** Lists the event log's repositories (backfill without a host listing): a Scan, read-only. */
  grantScanEventLog(fn: GeoFunction): void {
    this.bindEventLog(fn);
    fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Scan'], resources: [this.eventLogArn] }));
  }

  /** Reads the named secrets of the primary region (a name, not an ARN: any suffix Secrets Manager added). */
  grantReadSecrets(fn: GeoFunction, names: readonly (string | undefined)[]): void {
    for (const name of names) {
      if (name === undefined) continue;
      const id = `Secret-${name.replace(/[^A-Za-z0-9]/g, '-')}-${fn.node.id}`;
      const secret = Secret.fromSecretPartialArn(
        this,
        id,
        Stack.of(this).formatArn({ service: 'secretsmanager', region: this.primaryRegion, resource: 'secret', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      );
      secret.grantRead(fn);
    }
  }
}
