import { describe, expect, it } from '@jest/globals';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { grantLfsObjectWrites, LFS_OBJECTS_PATTERN } from '../../../cdk/constructs/grantLfsObjectWrites.ts';
import { testApp } from '../testApp.ts';

describe('grantLfsObjectWrites', () => {
  it('grants writes, deletes and upload aborts on LFS object keys only', () => {
    const stack = new Stack(testApp(), 'LfsGrant');
    const bucket = new Bucket(stack, 'Mirror');
    grantLfsObjectWrites(bucket, new Role(stack, 'Fn', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') }));
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:PutObject'],
            Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^Mirror'), 'Arn'] }, `/${LFS_OBJECTS_PATTERN}`]] },
          },
        ],
      },
    });
    expect(LFS_OBJECTS_PATTERN).toBe('*.git/lfs/objects/*');
  });
});
