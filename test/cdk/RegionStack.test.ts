import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { Construct } from 'constructs';
import type { RegionStack } from '../../cdk/RegionStack.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements, type Statement } from './policyStatements.ts';
import { buildTestApp, type TestGeoApp } from './testApp.ts';

describe('RegionStack', () => {
  let geo: TestGeoApp;
  let region: RegionStack;
  let template: Template;
  const id = (construct: Construct): string => region.getLogicalId(construct.node.defaultChild as CfnElement);
  const topicArnText = (arn: unknown): string => JSON.stringify(arn);

  beforeAll(() => {
    geo = buildTestApp();
    region = geo.regions.get('eu-west-1')!;
    template = Template.fromStack(region);
  });
  afterAll(() => geo.remove());

  it('one stack per secondary region, each in its region, deployed after the primary', () => {
    expect([...geo.regions.keys()]).toEqual(['eu-west-1', 'ap-southeast-2']);
    for (const [name, stack] of geo.regions) {
      expect(stack.region).toBe(name);
      expect(stack.stackName).toBe(`GitGeo-Region-${name}`);
      expect(stack.dependencies).toContain(geo.primary);
    }
  });

  it('change queue: FIFO, SQS-managed encryption, redriven to a FIFO dead-letter queue after maxReceiveCount deliveries', () => {
    // The change queue and its dead letters, and the announcements queue and its own.
    template.resourceCountIs('AWS::SQS::Queue', 4);
    template.hasResourceProperties('AWS::SQS::Queue', {
      FifoQueue: true,
      ContentBasedDeduplication: false,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [id(region.deadLetterQueue), 'Arn'] },
        maxReceiveCount: 5,
      },
    });
    const deadLetters = template.toJSON().Resources[id(region.deadLetterQueue)] as { Type: string; Properties: Record<string, unknown> };
    expect(deadLetters.Type).toBe('AWS::SQS::Queue');
    expect(deadLetters.Properties).toMatchObject({ FifoQueue: true, SqsManagedSseEnabled: true });
    expect(deadLetters.Properties).not.toHaveProperty('RedrivePolicy');
  });

  it('maxReceiveCount comes from the configuration', () => {
    const other = buildTestApp({ maxReceiveCount: 42 });
    try {
      Template.fromStack(other.regions.get('eu-west-1')!).hasResourceProperties('AWS::SQS::Queue', {
        RedrivePolicy: Match.objectLike({ maxReceiveCount: 42 }),
      });
    } finally {
      other.remove();
    }
  });

  it("subscribes the queue to the primary's topic: sqs protocol, raw delivery, the primary region", () => {
    // The change queue's, and the announcements queue's (RegionalAnnouncements).
    template.resourceCountIs('AWS::SNS::Subscription', 2);
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'sqs',
      RawMessageDelivery: true,
      Region: 'us-east-1',
      Endpoint: { 'Fn::GetAtt': [id(region.queue), 'Arn'] },
    });
    const [subscription] = Object.values(template.findResources('AWS::SNS::Subscription')) as { Properties: { TopicArn: unknown } }[];
    const arn = topicArnText(subscription?.Properties.TopicArn);
    expect(arn).toContain('arn:aws:sns:us-east-1:');
    expect(arn).toContain(':GitGeo-Primary-ChangeEvents.fifo"');
    expect(arn).not.toContain('eu-west-1');
  });

  it('the queue policy lets only sns.amazonaws.com send, and only from the primary topic', () => {
    const [subscription] = Object.values(template.findResources('AWS::SNS::Subscription')) as { Properties: { TopicArn: unknown } }[];
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: id(region.queue) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'sns.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': [id(region.queue), 'Arn'] },
            Condition: { ArnEquals: { 'aws:SourceArn': subscription?.Properties.TopicArn } },
          }),
        ]),
      },
    });
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
    const allows = policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement).filter((statement) => statement.Effect === 'Allow');
    // One per queue subscribed (changes, announcements), each admitting only the primary topic.
    expect(allows).toHaveLength(2);
    for (const allow of allows) expect(allow.Condition).toEqual({ ArnEquals: { 'aws:SourceArn': subscription?.Properties.TopicArn } });
  });

  it('mirror bucket: versioned, encrypted, every public-access block on, retained', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: Match.anyValue() } }] },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    const mirror = template.toJSON().Resources[id(region.bucket)] as { Properties: Record<string, unknown>; DeletionPolicy: string };
    expect(mirror.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(mirror.DeletionPolicy).toBe('Retain');
  });

  it('the mirror bucket policy denies requests without TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id(region.bucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it('registry table: point-in-time recovery, retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } }),
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it("sync's environment names its registry, bucket and queue, reads secrets in its own region, and lists the ref namespaces", () => {
    // sync, verify, backfill, endpoint, backup, announce, and the status page.
    template.resourceCountIs('AWS::Lambda::Function', 7);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Environment: {
        Variables: Match.objectLike({
          REGISTRY_TABLE: { Ref: id(region.registry) },
          MIRROR_BUCKET: { Ref: id(region.bucket) },
          QUEUE_URL: { Ref: id(region.queue) },
          REF_NAMESPACES: JSON.stringify(['refs/heads/', 'refs/tags/', 'refs/merge-requests/']),
        }),
      },
    });
    const sync = template.toJSON().Resources[id(region.sync)] as { Properties: { Environment: { Variables: Record<string, string> } } };
    expect(JSON.parse(sync.Properties.Environment.Variables.REF_NAMESPACES!)).toEqual(geo.config.refNamespaces);
  });

  it('the queue triggers sync with partial batch responses, the configured batch size and maximum concurrency', () => {
    // The sync's, and the announce function's (RegionalAnnouncements).
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [id(region.queue), 'Arn'] },
      FunctionName: { Ref: id(region.sync) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 4,
      ScalingConfig: { MaximumConcurrency: 7 },
    });
  });

  it("sync's S3 permissions are named actions: no s3:* and no wildcard action", () => {
    const statements = roleStatements(template, functionRoleId(template, id(region.sync)));
    const s3 = statements.filter((statement) => actionsOf(statement).some((action) => action.startsWith('s3:')));
    const actions = s3.flatMap(actionsOf);
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 's3:ListBucket']));
    for (const action of statements.flatMap(actionsOf)) {
      expect(action).not.toBe('*');
      expect(action).not.toMatch(/\*$/);
    }
    for (const statement of s3) {
      expect(statement.Effect).toBe('Allow');
      for (const resource of resourcesOf(statement)) expect(JSON.stringify(resource)).toContain(id(region.bucket));
    }
  });

  it("sync's timeout is not more than the queue's visibility timeout", () => {
    const resources = template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
    const timeout = resources[id(region.sync)]!.Properties.Timeout as number;
    const visibility = resources[id(region.queue)]!.Properties.VisibilityTimeout as number;
    expect(timeout).toBe(300);
    expect(typeof visibility).toBe('number');
    expect(timeout).toBeLessThanOrEqual(visibility);
  });

  it("sync's environment carries the failure-handling settings: dead-letter queue, primary timeout, retry base, deletion policy", () => {
    const other = buildTestApp({ primaryTimeoutSeconds: 7, syncRetryBaseSeconds: 3, deletedRepositories: 'remove', minSyncIntervalSeconds: 30 });
    try {
      const otherRegion = other.regions.get('eu-west-1')!;
      Template.fromStack(otherRegion).hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            DEAD_LETTER_QUEUE_URL: { Ref: otherRegion.getLogicalId(otherRegion.deadLetterQueue.node.defaultChild as CfnElement) },
            PRIMARY_TIMEOUT_MS: '7000',
            RETRY_BASE_SECONDS: '3',
            DELETED_REPOSITORIES: 'remove',
            MIN_SYNC_INTERVAL_SECONDS: '30',
          }),
        },
      });
    } finally {
      other.remove();
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ PRIMARY_TIMEOUT_MS: '30000', RETRY_BASE_SECONDS: '10', DELETED_REPOSITORIES: 'tombstone', MIN_SYNC_INTERVAL_SECONDS: '0' }),
      },
    });
  });

  it("sync spools packs to a /tmp of syncEphemeralStorageMiB and gets the pack maintenance policy", () => {
    const resources = template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>;
    const sync = resources[id(region.sync)]!.Properties;
    expect(sync.EphemeralStorage).toEqual({ Size: 10_240 });
    expect(JSON.parse((sync.Environment as { Variables: Record<string, string> }).Variables.PACK_MAINTENANCE!)).toEqual({ minPacks: 8, factor: 2, maxMiB: 2048 });
    const other = buildTestApp({ syncEphemeralStorageMiB: 2048, packMaintenance: { minPacks: 0 } });
    try {
      const otherRegion = other.regions.get('eu-west-1')!;
      const otherSync = (Template.fromStack(otherRegion).toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>)[otherRegion.getLogicalId(otherRegion.sync.node.defaultChild as CfnElement)]!.Properties;
      expect(otherSync.EphemeralStorage).toEqual({ Size: 2048 });
      expect(JSON.parse((otherSync.Environment as { Variables: Record<string, string> }).Variables.PACK_MAINTENANCE!)).toEqual({ minPacks: 0, factor: 2, maxMiB: 2048 });
    } finally {
      other.remove();
    }
  });

  it('sync may send to the dead-letter queue (permanent failures), and to no other queue', () => {
    const statements = roleStatements(template, functionRoleId(template, id(region.sync)));
    const sends = statements.filter((statement) => actionsOf(statement).includes('sqs:SendMessage'));
    expect(sends).toHaveLength(1);
    expect(resourcesOf(sends[0]!)).toEqual([{ 'Fn::GetAtt': [id(region.deadLetterQueue), 'Arn'] }]);
  });

  it('tombstoned mirrors expire after tombstoneRetentionDays', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-tombstones', Prefix: '.git-geo/tombstones/', ExpirationInDays: 90, Status: 'Enabled' })]),
      },
    });
  });
});

describe('RegionStack: the Git endpoint', () => {
  let geo: TestGeoApp;
  let region: RegionStack;
  let template: Template;
  const id = (construct: Construct): string => region.getLogicalId(construct.node.defaultChild as CfnElement);
  const endpointStatements = (): Statement[] => roleStatements(template, functionRoleId(template, id(region.endpoint)));

  beforeAll(() => {
    geo = buildTestApp();
    region = geo.regions.get('eu-west-1')!;
    template = Template.fromStack(region);
  });
  afterAll(() => geo.remove());

  it('runs the endpoint factory, mounted locally at /<region>, with its bucket, registry and the settings (nothing in another region)', () => {
    template.hasResource('AWS::Lambda::Function', {
      Metadata: Match.objectLike({
        'git-geo:handler-factory': 'lambdas/endpoint/createEndpointHandler.ts#createEndpointHandler',
        'git-geo:local-url-path': '/eu-west-1',
      }),
      Properties: Match.objectLike({
        Runtime: 'nodejs24.x',
        Environment: {
          Variables: Match.objectLike({
            REGISTRY_TABLE: { Ref: id(region.registry) },
            MIRROR_BUCKET: { Ref: id(region.bucket) },
            PRIMARY_URLS: 'https://gitlab.example.com,https://gitlab-mirror.example.com:8443',
            REF_NAMESPACES: JSON.stringify(['refs/heads/', 'refs/tags/', 'refs/merge-requests/']),
            READ_MODE: 'redirect',
            WRITE_PENDING_SECONDS: '120',
            ACCESS_CACHE_SECONDS: '45',
            ANONYMOUS_TRUST_SECONDS: '600',
            ON_CONTROL_PLANE_LOSS: 'serve-stale',
            CONTROL_PLANE_LOSS_SECONDS: '180',
            STALENESS_BUDGET_SECONDS: '3600',
            ALLOW_REACHABLE_SHA1_IN_WANT: 'true',
          }),
        },
      }),
    });
  });

  it('a Function URL with no IAM auth (callers are checked against the primary) that streams its responses', () => {
    // The other is the status page's (IAM auth; test/cdk/constructs/StatusPage.test.ts).
    template.resourceCountIs('AWS::Lambda::Url', 2);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      InvokeMode: 'RESPONSE_STREAM',
      TargetFunctionArn: { 'Fn::GetAtt': [id(region.endpoint), 'Arn'] },
    });
  });

  it('keeps packs in 4 GiB of /tmp, within which its pack cache stays, so memory does not grow with a repository', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      EphemeralStorage: { Size: 4096 },
      Environment: { Variables: Match.objectLike({ PACK_CACHE_BYTES: String(3584 * 2 ** 20), MAX_PACK_BYTES: String(190 * 2 ** 20) }) },
    });
  });

  it('outputs the URL Git clients use', () => {
    const [urlId] = Object.keys(template.findResources('AWS::Lambda::Url', { Properties: { AuthType: 'NONE' } }));
    template.hasOutput('GitEndpointUrl', { Value: { 'Fn::GetAtt': [urlId, 'FunctionUrl'] } });
  });

  it('reads the mirror bucket and never writes it', () => {
    const s3 = endpointStatements().filter((statement) => actionsOf(statement).some((action) => action.startsWith('s3:')));
    expect(s3.flatMap(actionsOf).sort()).toEqual(['s3:GetObject', 's3:GetObjectVersion', 's3:ListBucket']);
    for (const statement of s3) {
      for (const resource of resourcesOf(statement)) expect(JSON.stringify(resource)).toContain(id(region.bucket));
    }
  });

  it('reads its registry, and may update only the write-pending marker there', () => {
    const onRegistry = endpointStatements().filter((statement) => resourcesOf(statement).some((resource) => JSON.stringify(resource).includes(id(region.registry))));
    expect(onRegistry.flatMap(actionsOf).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:UpdateItem']);
    const update = onRegistry.find((statement) => actionsOf(statement).includes('dynamodb:UpdateItem'))!;
    expect(actionsOf(update)).toEqual(['dynamodb:UpdateItem']);
    expect(update.Condition).toEqual({
      'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'writePendingAt'] },
      StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
    });
  });

  it('reads nothing outside its own region: every DynamoDB and S3 resource it may touch is in eu-west-1 or its own', () => {
    const resources = endpointStatements().flatMap(resourcesOf).map((resource) => JSON.stringify(resource));
    expect(resources.filter((resource) => resource.includes('us-east-1') || resource.includes('EventLog'))).toEqual([]);
  });

  it('no secrets, queues or topics for the endpoint: it asks the primary with the caller\'s own credentials', () => {
    const actions = endpointStatements().flatMap(actionsOf);
    expect(actions.filter((action) => /^(secretsmanager|sqs|sns|kms):/.test(action))).toEqual([]);
    for (const action of actions) expect(action).not.toMatch(/\*/);
  });

  it('a region listed in readOnlyRegions runs its endpoint read-only; the others redirect', () => {
    const other = buildTestApp({ readOnlyRegions: ['ap-southeast-2'] });
    try {
      const mode = (name: string): unknown => {
        const stack = other.regions.get(name)!;
        const fn = Template.fromStack(stack).toJSON().Resources[stack.getLogicalId(stack.endpoint.node.defaultChild as CfnElement)] as {
          Properties: { Environment: { Variables: Record<string, string> } };
        };
        return fn.Properties.Environment.Variables.READ_MODE;
      };
      expect(mode('ap-southeast-2')).toBe('read-only');
      expect(mode('eu-west-1')).toBe('redirect');
    } finally {
      other.remove();
    }
  });
});
