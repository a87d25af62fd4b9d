import { Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Bucket } from 'aws-cdk-lib/aws-s3';

/** Where a region keeps LFS objects: `<path>.git/lfs/objects/<oid[0:2]>/<oid[2:4]>/<oid>`. */
export const LFS_OBJECTS_PATTERN = '*.git/lfs/objects/*';

/**
 * Lets a function write, delete and abort uploads of LFS objects, and nothing else: the sync
 * streams them in (multipart above one part, so an abort must be allowed), verification deletes
 * a corrupt one and copies it again.
 */
export function grantLfsObjectWrites(bucket: Bucket, grantee: IGrantable): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ actions: ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], resources: [bucket.arnForObjects(LFS_OBJECTS_PATTERN)] }),
  );
  Validations.of(grantee as never).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${Stack.of(bucket).resolve((bucket.node.defaultChild as CfnResource).logicalId) as string}.Arn>/${LFS_OBJECTS_PATTERN}]`,
    reason: 'LFS objects are keyed by repository and oid under each repository prefix; only those keys are writable.',
  });
}
