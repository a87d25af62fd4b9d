import { describe, expect, it } from '@jest/globals';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { AccessDeniedError, iamEnforcement } from '../../bin/local/iam/iamEnforcement.ts';
import type { FunctionRole } from '../../bin/local/iam/FunctionRole.ts';
import { requestAuthorizations, UnmappedRequestError } from '../../bin/local/iam/requestAuthorizations.ts';

const account = '123456789012';
const region = 'eu-west-1';
const table = `arn:aws:dynamodb:${region}:${account}:table/Registry`;
const tables = new Map([['Registry', { partitionKey: 'pk', indexes: { ByStatus: 'status' } }]]);
const scope = { region, account, tables };
// Nothing listens here: a request IAM allows fails to connect instead of being denied.
const closed = { region, endpoint: 'http://127.0.0.1:9', credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1, forcePathStyle: true };

const role: FunctionRole = {
  arn: `arn:aws:iam::${account}:role/endpoint-role`,
  name: 'endpoint-role',
  policies: [
    {
      name: 'default',
      document: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: ['s3:GetObject'], Resource: 'arn:aws:s3:::mirrors/*' },
          {
            Effect: 'Allow',
            Action: 'dynamodb:UpdateItem',
            Resource: table,
            Condition: { 'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'writePendingAt'] }, StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' } },
          },
          { Effect: 'Allow', Action: 'dynamodb:Query', Resource: `${table}/index/ByStatus` },
        ],
      },
    },
  ],
};

function enforced<Client extends { middlewareStack: { use(plugin: never): void } }>(client: Client): Client {
  client.middlewareStack.use(iamEnforcement(role, { account, functionName: 'endpoint', tables }) as never);
  return client;
}

async function failure(call: Promise<unknown>): Promise<Error> {
  try {
    await call;
  } catch (error) {
    return error as Error;
  }
  throw new Error('the call succeeded');
}

describe('IAM enforcement of a function role, as SDK middleware', () => {
  it('lets through what the role allows and denies the rest with AccessDenied naming the action and resource', async () => {
    const s3 = enforced(new S3Client(closed));
    const allowed = await failure(s3.send(new GetObjectCommand({ Bucket: 'mirrors', Key: 'a/b.git/objects/pack/p.pack' })));
    expect(allowed).not.toBeInstanceOf(AccessDeniedError);
    const denied = await failure(s3.send(new GetObjectCommand({ Bucket: 'other', Key: 'k' })));
    expect(denied).toBeInstanceOf(AccessDeniedError);
    expect(denied.name).toBe('AccessDenied');
    expect(denied.message).toBe(
      `User: arn:aws:sts::${account}:assumed-role/endpoint-role/endpoint is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::other/k because no identity-based policy allows the s3:GetObject action`,
    );
    const sqs = enforced(new SQSClient(closed));
    const send = await failure(sqs.send(new SendMessageCommand({ QueueUrl: `https://sqs.${region}.amazonaws.com/${account}/queue`, MessageBody: '{}' })));
    expect((send as AccessDeniedError).action).toBe('sqs:SendMessage');
    expect((send as AccessDeniedError).resource).toBe(`arn:aws:sqs:${region}:${account}:queue`);
  });

  it('evaluates DynamoDB condition keys: the attributes an update writes and what it returns', async () => {
    const db = DynamoDBDocumentClient.from(enforced(new DynamoDBClient(closed)));
    const update = (names: string, extra: object = {}) =>
      failure(db.send(new UpdateCommand({ TableName: 'Registry', Key: { pk: 'a/b', sk: 'state' }, UpdateExpression: `SET ${names} = :now`, ExpressionAttributeValues: { ':now': 1 }, ...extra })));
    expect(await update('writePendingAt')).not.toBeInstanceOf(AccessDeniedError);
    expect(await update('#s', { ExpressionAttributeNames: { '#s': 'status' } })).toBeInstanceOf(AccessDeniedError);
    expect(await update('writePendingAt', { ReturnValues: 'ALL_NEW' })).toBeInstanceOf(AccessDeniedError);
    const byIndex = await failure(db.send(new QueryCommand({ TableName: 'Registry', IndexName: 'ByStatus', KeyConditionExpression: '#s = :s', ExpressionAttributeNames: { '#s': 'status' }, ExpressionAttributeValues: { ':s': 'failed' } })));
    expect(byIndex).not.toBeInstanceOf(AccessDeniedError);
    const byTable = await failure(db.send(new QueryCommand({ TableName: 'Registry', KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': 'a/b' } })));
    expect((byTable as AccessDeniedError).resource).toBe(table);
  });

  it('maps multi-resource requests to each authorization AWS makes, and refuses requests it cannot map', () => {
    expect(requestAuthorizations('S3Client', 'CopyObjectCommand', { Bucket: 'b', Key: 'to', CopySource: 'a/from%20x?versionId=3' }, scope)).toEqual([
      { action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::a/from x', context: {} },
      { action: 's3:PutObject', resource: 'arn:aws:s3:::b/to', context: {} },
    ]);
    expect(requestAuthorizations('S3Client', 'DeleteObjectsCommand', { Bucket: 'b', Delete: { Objects: [{ Key: 'x' }, { Key: 'y', VersionId: '1' }] } }, scope).map((a) => a.action)).toEqual(['s3:DeleteObject', 's3:DeleteObjectVersion']);
    const transaction = requestAuthorizations(
      'DynamoDBClient',
      'TransactWriteItemsCommand',
      { TransactItems: [{ Put: { TableName: 'Registry', Item: { pk: { S: '.git-geo/region' }, sk: { S: 'x' } } } }, { ConditionCheck: { TableName: 'Other', Key: { id: { S: '1' } } } }] },
      scope,
    );
    expect(transaction.map((a) => [a.action, a.resource, a.context['dynamodb:LeadingKeys']])).toEqual([
      ['dynamodb:PutItem', table, ['.git-geo/region']],
      ['dynamodb:ConditionCheckItem', `arn:aws:dynamodb:${region}:${account}:table/Other`, undefined],
    ]);
    expect(requestAuthorizations('SecretsManagerClient', 'GetSecretValueCommand', { SecretId: 'git-geo/webhook' }, scope)[0]?.resource).toMatch(/:secret:git-geo\/webhook-.{6}$/);
    expect(() => requestAuthorizations('S3Client', 'PutBucketPolicyCommand', { Bucket: 'b' }, scope)).toThrow(UnmappedRequestError);
    expect(() => requestAuthorizations('KinesisClient', 'PutRecordCommand', {}, scope)).toThrow(/cannot authorize KinesisClient PutRecord/);
  });
});
