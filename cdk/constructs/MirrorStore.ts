import { Duration, type CfnResource } from 'aws-cdk-lib';
import { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Bucket, ObjectLockRetention } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { TOMBSTONE_PREFIX } from '../../lambdas/sync/tombstonePrefix.ts';
import type { GeoFunction } from './GeoFunction.ts';
import { grantMirrorAccess } from './grantMirrorAccess.ts';
import { grantOnTableOnly, REGISTRY_READ_WRITE_ACTIONS, RegistryStatusIndex } from './RegistryStatusIndex.ts';
import { NONCURRENT_VERSIONS, SECURE_BUCKET, SECURE_TABLE } from './secureDefaults.ts';

export interface MirrorStoreProps {
  /** Days an overwritten mirror file is kept as a noncurrent version. */
  readonly noncurrentVersionDays: number;
  /** Days a deleted repository's tombstone is kept. */
  readonly tombstoneRetentionDays: number;
  /** S3 Object Lock (governance) on the bucket, set at creation only. */
  readonly objectLockDays?: number;
  /** Logical ids to keep (from before these resources moved into this construct), so an upgrade replaces none of them. */
  readonly logicalIds?: { readonly accessLogs: string; readonly bucket: string; readonly registry: string };
}

/**
 * A region's mirrors: the versioned bucket of bare repositories (with its access-log bucket)
 * and the registry of their state, with its index of status and time (no schedule scans the
 * table). Functions get access through its grant methods, which also name the resource in the
 * function's environment.
 */
export class MirrorStore extends Construct {
  readonly bucket: Bucket;
  readonly accessLogs: Bucket;
  readonly registry: Table;
  readonly statusIndex: RegistryStatusIndex;

  constructor(scope: Construct, id: string, props: MirrorStoreProps) {
    super(scope, id);
    this.accessLogs = new Bucket(this, 'AccessLogs', {
      ...SECURE_BUCKET,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(90) }],
    });
    this.bucket = new Bucket(this, 'Mirrors', {
      ...SECURE_BUCKET,
      versioned: true,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'mirrors/',
      // Immutability for snapshots and packs: versions cannot be deleted or overwritten before the period ends.
      ...(props.objectLockDays === undefined
        ? {}
        : { objectLockEnabled: true, objectLockDefaultRetention: ObjectLockRetention.governance(Duration.days(props.objectLockDays)) }),
      lifecycleRules: [
        ...(NONCURRENT_VERSIONS(props.noncurrentVersionDays) ?? []),
        { id: 'expire-tombstones', prefix: TOMBSTONE_PREFIX, expiration: Duration.days(props.tombstoneRetentionDays) },
      ],
    });
    this.registry = new Table(this, 'Registry', { ...SECURE_TABLE });
    this.statusIndex = new RegistryStatusIndex(this, 'StatusIndex', { table: this.registry, readers: [] });
    if (props.logicalIds !== undefined) {
      (this.accessLogs.node.defaultChild as CfnResource).overrideLogicalId(props.logicalIds.accessLogs);
      (this.bucket.node.defaultChild as CfnResource).overrideLogicalId(props.logicalIds.bucket);
      (this.registry.node.defaultChild as CfnResource).overrideLogicalId(props.logicalIds.registry);
    }
  }

  /** Reads repositories from the bucket (MIRROR_BUCKET). */
  grantRead(fn: GeoFunction): void {
    fn.setResource('MIRROR_BUCKET', this.bucket.bucketName);
    grantMirrorAccess(this.bucket, fn, 'read');
  }

  /** Reads, writes and deletes repositories in the bucket (MIRROR_BUCKET). */
  grantReadWrite(fn: GeoFunction): void {
    fn.setResource('MIRROR_BUCKET', this.bucket.bucketName);
    grantMirrorAccess(this.bucket, fn, 'read-write');
  }

  /** The named actions on the registry's items, not its index (REGISTRY_TABLE). */
  grantRegistry(fn: GeoFunction, ...actions: string[]): void {
    fn.setResource('REGISTRY_TABLE', this.registry.tableName);
    if (actions.length > 0) grantOnTableOnly(this.registry, fn, ...actions);
  }

  /** Reads and writes the registry's items (REGISTRY_TABLE). */
  grantRegistryReadWrite(fn: GeoFunction): void {
    this.grantRegistry(fn, ...REGISTRY_READ_WRITE_ACTIONS);
  }

  /** Queries the status index (a schedule's list of repositories by status). */
  grantStatusIndexQuery(fn: GeoFunction): void {
    this.statusIndex.grantQuery(fn);
  }
}
