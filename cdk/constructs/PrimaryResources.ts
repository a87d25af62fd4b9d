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
 * What a secondary region's functions read that the control plane owns: the primary's event log
 * (listed across regions by a new region's onboarding, never on a read path) and the secrets the
 * configuration names, by name, in the region's own Secrets Manager (replicas of the primary's).
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

  /** Lists the event log's repositories (backfill without a host listing): a Scan, read-only. */
  grantScanEventLog(fn: GeoFunction): void {
    fn.setResource('EVENT_LOG_TABLE', this.eventLogTableName).setResource('EVENT_LOG_REGION', this.primaryRegion);
    fn.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Scan'], resources: [this.eventLogArn] }));
  }

  /** Reads the named secrets in the function's region (a name, not an ARN: any suffix Secrets Manager added). */
  grantReadSecrets(fn: GeoFunction, names: readonly (string | undefined)[]): void {
    const stack = Stack.of(this);
    for (const name of names) {
      if (name === undefined) continue;
      const id = `Secret-${name.replace(/[^A-Za-z0-9]/g, '-')}-${fn.node.id}`;
      const secret = Secret.fromSecretPartialArn(
        this,
        id,
        stack.formatArn({ service: 'secretsmanager', region: stack.region, resource: 'secret', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
      );
      secret.grantRead(fn);
    }
  }
}
