import { describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { RegionalEndpoint } from '../../../cdk/constructs/RegionalEndpoint.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements } from '../policyStatements.ts';
import { bareStack, environmentOf, logicalId, regionalDependencies, settingsOf } from './bareStack.ts';

describe('RegionalEndpoint', () => {
  const stack = bareStack();
  const { store } = regionalDependencies(stack);
  const settings = { primaryUrls: ['https://gitlab.example.com'], primaryTimeoutSeconds: 7, accessCacheSeconds: 45, readMode: 'read-only' as const, packCacheBytes: 3584 * 2 ** 20 };
  const endpoint = new RegionalEndpoint(stack, 'Endpoint', { store, settings, localUrlPath: '/eu-west-1' });
  const template = Template.fromStack(stack);
  const id = logicalId(endpoint.function);
  const statements = roleStatements(template, functionRoleId(template, id));

  it('runs the endpoint factory, mounted locally at its path, with its settings as one value and its resources by name', () => {
    template.hasResource('AWS::Lambda::Function', {
      Metadata: Match.objectLike({ 'git-geo:handler-factory': 'lambdas/endpoint/createEndpointHandler.ts#createEndpointHandler', 'git-geo:local-url-path': '/eu-west-1' }),
    });
    expect(settingsOf(template, id)).toEqual(settings);
    expect(environmentOf(template, id)).toMatchObject({
      REGISTRY_TABLE: { Ref: logicalId(store.registry) },
      MIRROR_BUCKET: { Ref: logicalId(store.bucket) },
    });
    expect(environmentOf(template, id)).not.toHaveProperty('EVENT_LOG_TABLE');
  });

  it('a Function URL with no IAM auth (callers are checked against the primary) that streams', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', InvokeMode: 'RESPONSE_STREAM', TargetFunctionArn: { 'Fn::GetAtt': [id, 'Arn'] } });
  });

  it('reads the mirror bucket and never writes it; reads the registry and may update only the write-pending marker', () => {
    const onMirrors = statements.filter((statement) => JSON.stringify(statement.Resource).includes(logicalId(store.bucket)));
    expect(onMirrors.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket']);
    const onRegistry = statements.filter((statement) => resourcesOf(statement).some((resource) => JSON.stringify(resource).includes(logicalId(store.registry))));
    expect(onRegistry.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    const update = onRegistry.find((statement) => actionsOf(statement).includes('dynamodb:UpdateItem'))!;
    expect(update.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'writePendingAt'] },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
    });
  });

  it('reads nothing outside its own region: registry items (announcements and the override copy included) and its bucket', () => {
    for (const statement of statements) expect(JSON.stringify(statement.Resource)).not.toMatch(/us-east-1|EventLog/);
    const reads = statements.filter((statement) => actionsOf(statement).includes('dynamodb:GetItem'));
    expect(reads.flatMap(resourcesOf)).toEqual([{ 'Fn::GetAtt': [logicalId(store.registry), 'Arn'] }]);
  });

  it('writes the packs it builds for clients to download into a bucket of their own, which expires them after a day', () => {
    const bucket = logicalId(endpoint.packDownloads.bucket);
    expect(environmentOf(template, id)).toMatchObject({ PACK_DOWNLOAD_BUCKET: { Ref: bucket } });
    const onDownloads = statements.filter((statement) => JSON.stringify(statement.Resource).includes(bucket));
    const onObjects = onDownloads.filter((statement) => !actionsOf(statement).includes('s3:ListBucket'));
    expect(onObjects.flatMap(actionsOf).sort()).toEqual(['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject']);
    expect(onObjects.flatMap(resourcesOf)).toEqual([{ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, '/*']] }]);
    // Listing, for S3 to answer a missing reuse record 404 rather than 403: that prefix only.
    const listing = onDownloads.filter((statement) => actionsOf(statement).includes('s3:ListBucket'));
    expect(listing).toEqual([expect.objectContaining({ Action: 's3:ListBucket', Resource: { 'Fn::GetAtt': [bucket, 'Arn'] }, Condition: { StringLike: { 's3:prefix': ['reuse/*'] } } })]);
    const downloads = template.toJSON().Resources[bucket].Properties;
    expect(downloads.VersioningConfiguration).toBeUndefined();
    expect(downloads.ObjectLockEnabled).toBeUndefined();
    expect(downloads.LifecycleConfiguration.Rules).toEqual([expect.objectContaining({ ExpirationInDays: 1, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } })]);
    expect(downloads.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
  });

  it('keeps packs in 4 GiB of /tmp; its settings carry the pack cache that fits in it', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { EphemeralStorage: { Size: 4096 }, Environment: { Variables: Match.objectLike({ MAX_PACK_BYTES: String(190 * 2 ** 20) }) } });
  });

  it("no secrets, queues or topics: it asks the primary with the caller's own credentials", () => {
    const actions = statements.flatMap(actionsOf);
    expect(actions.filter((action) => /^(secretsmanager|sqs|sns|kms):/.test(action))).toEqual([]);
    for (const action of actions) expect(action).not.toMatch(/\*/);
  });
});
