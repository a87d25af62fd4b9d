import { AttributeType, ProjectionType, type Table } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { STATUS_INDEX } from '../../lambdas/shared/registry/statusIndex.ts';

export interface RegistryStatusIndexProps {
  /** The region's registry table. */
  readonly table: Table;
  /** The functions whose schedules query the index (watchdog, verification, backup, backfill). */
  readonly readers: readonly IGrantable[];
}

/** What a function that reads and writes registry items may do there (the table itself, not its indexes). */
export const REGISTRY_READ_WRITE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:ConditionCheckItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:DescribeTable'];

/**
 * Grants actions on the table's items only. Table.grant would add `index/*` once the table has an
 * index; the index is granted by name, for Query, to the functions that read it.
 */
export function grantOnTableOnly(table: Table, grantee: IGrantable, ...actions: string[]): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions, resources: [table.tableArn] }));
}

/**
 * The registry's index of state and update time, so no schedule scans the table: the watchdog
 * queries `started`, the verification the statuses due, the backup every live status. Readers
 * may Query this index and nothing else through it.
 */
export class RegistryStatusIndex extends Construct {
  readonly indexArn: string;

  constructor(scope: Construct, id: string, props: RegistryStatusIndexProps) {
    super(scope, id);
    props.table.addGlobalSecondaryIndex({
      indexName: STATUS_INDEX.name,
      partitionKey: { name: STATUS_INDEX.partitionKey, type: AttributeType.STRING },
      sortKey: { name: STATUS_INDEX.sortKey, type: AttributeType.STRING },
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: [...STATUS_INDEX.projected],
    });
    this.indexArn = `${props.table.tableArn}/index/${STATUS_INDEX.name}`;
    for (const reader of props.readers) this.grantQuery(reader);
  }

  /** Query on this index, and nothing else through it. */
  grantQuery(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions: ['dynamodb:Query'], resources: [this.indexArn] }));
  }
}
