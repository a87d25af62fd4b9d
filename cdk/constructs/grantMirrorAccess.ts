import { Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import { PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { Bucket } from 'aws-cdk-lib/aws-s3';

const READ = ['s3:GetObject', 's3:GetObjectVersion'];
// AbortMultipartUpload: a failed multipart write (a big pack, a bundle) removes its parts at once, not a day later by the lifecycle rule.
const WRITE = ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'];

/**
 * Least-privilege access to a mirror bucket: named actions only (CDK's grantReadWrite adds
 * wildcard families such as s3:DeleteObject* and s3:Abort*). The one wildcard left is the
 * object resource `bucket/*`, since every repository is a prefix; it is acknowledged for cdk-nag.
 */
export function grantMirrorAccess(bucket: Bucket, grantee: IGrantable & { node: { defaultChild?: unknown } }, mode: 'read' | 'read-write'): void {
  grantee.grantPrincipal.addToPrincipalPolicy(
    new PolicyStatement({ actions: mode === 'read' ? READ : [...READ, ...WRITE], resources: [bucket.arnForObjects('*')] }),
  );
  grantee.grantPrincipal.addToPrincipalPolicy(new PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
  // Resolved, not allocated: an overridden logical id (MirrorStore keeps the old one) is the one nag reports.
  const bucketId = Stack.of(bucket).resolve((bucket.node.defaultChild as CfnResource).logicalId) as string;
  Validations.of(grantee as never).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/*]`,
    reason: 'Every repository is a key prefix of the mirror bucket, so access is granted on its objects; the actions are named one by one.',
  });
}
