import { Duration, Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Bucket, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type { GeoFunction } from './GeoFunction.ts';
import { SECURE_BUCKET } from './secureDefaults.ts';

export interface PackDownloadsProps {
  /** Where the bucket's server access logs go. */
  readonly accessLogs: IBucket;
  /** Days a pack is kept: its URL expires long before. */
  readonly expirationDays?: number;
}

/**
 * Packs the endpoint builds for a fetch that are too big for a fast inline answer: written
 * here, downloaded by the client from a pre-signed URL (and by later clients asking the same,
 * for an hour), expired by the bucket a day later.
 * Apart from the mirrors: no versions, no Object Lock, nothing a backup or restore walks.
 */
export class PackDownloads extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: PackDownloadsProps) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      ...SECURE_BUCKET,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'pack-downloads/',
      lifecycleRules: [{ id: 'expire-pack-downloads', expiration: Duration.days(props.expirationDays ?? 1), abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
  }

  /**
   * Writes packs and their reuse records, reads the records, and signs URLs (PACK_DOWNLOAD_BUCKET):
   * a URL reads only what its signer may read. ListBucket makes S3 answer a missing record 404,
   * a miss, rather than 403.
   */
  grantWriteAndSign(fn: GeoFunction): void {
    fn.setResource('PACK_DOWNLOAD_BUCKET', this.bucket.bucketName);
    fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'], resources: [this.bucket.arnForObjects('*')] }));
    fn.addToRolePolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [this.bucket.bucketArn], conditions: { StringLike: { 's3:prefix': ['reuse/*'] } } }));
    const bucketId = Stack.of(this).resolve((this.bucket.node.defaultChild as CfnResource).logicalId) as string;
    Validations.of(fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
      reason: 'Each download is a key named by its request, so the grant is on the objects of a bucket that holds nothing else.',
    });
  }
}
