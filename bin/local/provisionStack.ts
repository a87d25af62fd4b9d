import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  PutObjectLockConfigurationCommand,
  PutPublicAccessBlockCommand,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { CreateTableCommand, UpdateContinuousBackupsCommand, UpdateTimeToLiveCommand, type CreateTableInput } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { CreateTopicCommand, SetTopicAttributesCommand, SubscribeCommand } from '@aws-sdk/client-sns';
import { randomBytes } from 'node:crypto';
import { HANDLER_FACTORY_METADATA, LOCAL_URL_PATH_METADATA } from '../../cdk/constructs/localMetadata.ts';
import type { AwsClients } from './AwsClients.ts';
import { functionRole, tableKeys } from './iam/FunctionRole.ts';
import type {
  CfnResourceDefinition,
  LocalEventSource,
  LocalFunction,
  LocalFunctionUrl,
  LocalSchedule,
  ProvisionedStack,
  SynthesizedStack,
} from './LocalResources.ts';
import { referencedIds, resolveValue, type PhysicalResource, type ResolveContext } from './TemplateResolver.ts';


/** Resource types with no local counterpart: permissions and logging are AWS's to enforce. */
const NOT_EMULATED = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::Lambda::Permission',
  'AWS::Logs::LogGroup',
  'AWS::CDK::Metadata',
  'AWS::Backup::BackupVault',
  'AWS::Backup::BackupPlan',
  'AWS::Backup::BackupSelection',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
]);

export interface ProvisionOptions {
  readonly clients: AwsClients;
  readonly account: string;
  /** Base URL of the local HTTP server that serves Function URLs. */
  readonly httpBaseUrl: string;
  /** Exports of stacks provisioned before this one. */
  readonly exports: Map<string, string>;
  /** Physical resources of every stack so far, by ARN, for cross-stack lookups (queue ARN to URL). */
  readonly queuesByArn: Map<string, string>;
  /**
   * The endpoint speaks plain HTTP (an emulator on loopback). Statements that deny requests
   * without TLS (`aws:SecureTransport` false) would then deny everything, so they are left out.
   */
  readonly plainHttp: boolean;
}

function withoutTlsOnlyStatements(document: unknown): unknown {
  const policy = document as { Statement?: { Effect?: string; Condition?: { Bool?: Record<string, unknown> } }[] };
  return {
    ...policy,
    Statement: (policy.Statement ?? []).filter(
      (statement) => !(statement.Effect === 'Deny' && String(statement.Condition?.Bool?.['aws:SecureTransport']) === 'false'),
    ),
  };
}

/** A name CloudFormation-style: stack, logical id, random suffix; within the service's limits. */
function physicalName(stackName: string, logicalId: string, maxLength: number, options: { lowercase?: boolean; suffix?: string } = {}): string {
  const random = randomBytes(6).toString('hex');
  const suffix = options.suffix ?? '';
  let base = `${stackName}-${logicalId}`.replace(/[^A-Za-z0-9-]/g, '-');
  const budget = maxLength - random.length - 1 - suffix.length;
  base = base.slice(0, budget).replace(/-+$/, '');
  const name = `${base}-${random}${suffix}`;
  return options.lowercase ? name.toLowerCase() : name;
}

function order(resources: Record<string, CfnResourceDefinition>): string[] {
  const ids = Object.keys(resources);
  const deps = new Map(
    ids.map((id) => {
      const definition = resources[id]!;
      const refs = referencedIds(definition.Properties ?? {});
      const dependsOn = definition.DependsOn === undefined ? [] : [definition.DependsOn].flat();
      return [id, new Set([...refs, ...dependsOn].filter((ref) => ref in resources && ref !== id))];
    }),
  );
  const sorted: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string): void => {
    if (state.get(id) === 'done') return;
    if (state.get(id) === 'visiting') throw new Error(`template has a dependency cycle through ${id}`);
    state.set(id, 'visiting');
    for (const dep of deps.get(id) ?? []) visit(dep);
    state.set(id, 'done');
    sorted.push(id);
  };
  ids.forEach(visit);
  return sorted;
}

/** A template value as an API attribute string: JSON for objects, as is for the rest. */
function attributeText(value: unknown): string {
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
}

/**
 * Creates on the AWS endpoint every resource one synthesized stack declares, in dependency
 * order, resolving intrinsic functions as CloudFormation would. Lambda functions, their
 * event sources, Function URLs and schedules are returned for the runtime to run in-process.
 */
export async function provisionStack(stack: SynthesizedStack, options: ProvisionOptions): Promise<ProvisionedStack> {
  const { region, stackName } = stack;
  const clients = options.clients.region(region);
  const resources = new Map<string, PhysicalResource>();
  const ctx: ResolveContext = { stackName, region, account: options.account, resources, exports: options.exports };
  const functions: LocalFunction[] = [];
  const eventSources: LocalEventSource[] = [];
  const functionUrls: LocalFunctionUrl[] = [];
  const schedules: LocalSchedule[] = [];
  const notEmulated: string[] = [];
  const functionsByArn = new Map<string, LocalFunction>();
  const arn = (service: string, resource: string, inRegion = region): string => `arn:aws:${service}:${inRegion}:${options.account}:${resource}`;

  for (const logicalId of order(stack.template.Resources)) {
    const definition = stack.template.Resources[logicalId]!;
    if (definition.Condition !== undefined) continue;
    // A resource the runtime does not create needs no property values (AWS Backup's refer to each other).
    const props = NOT_EMULATED.has(definition.Type) ? {} : (resolveValue(definition.Properties ?? {}, ctx) as Record<string, unknown>);
    const set = (ref: string, attributes: Record<string, string> = {}): void => void resources.set(logicalId, { ref, attributes });

    switch (definition.Type) {
      case 'AWS::S3::Bucket': {
        const name = (props.BucketName as string | undefined) ?? physicalName(stackName, logicalId, 63, { lowercase: true });
        await clients.s3.send(
          new CreateBucketCommand({
            Bucket: name,
            ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
            ...(props.ObjectLockEnabled === true ? { ObjectLockEnabledForBucket: true } : {}),
          }),
        );
        const versioning = props.VersioningConfiguration as { Status?: string } | undefined;
        if (versioning?.Status === 'Enabled') {
          await clients.s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }));
        }
        const lock = props.ObjectLockConfiguration as { ObjectLockEnabled?: string; Rule?: { DefaultRetention?: { Mode?: string; Days?: number } } } | undefined;
        if (lock?.Rule?.DefaultRetention !== undefined) {
          await clients.s3.send(new PutObjectLockConfigurationCommand({ Bucket: name, ObjectLockConfiguration: lock as never }));
        }
        type CfnRule = { ServerSideEncryptionByDefault?: { SSEAlgorithm: string; KMSMasterKeyID?: string }; BucketKeyEnabled?: boolean };
        const encryption = props.BucketEncryption as { ServerSideEncryptionConfiguration?: CfnRule[] } | undefined;
        if (encryption?.ServerSideEncryptionConfiguration) {
          // CloudFormation says ServerSideEncryptionByDefault where the API says ApplyServerSideEncryptionByDefault.
          const rules = encryption.ServerSideEncryptionConfiguration.map((rule) => ({
            ApplyServerSideEncryptionByDefault: rule.ServerSideEncryptionByDefault as never,
            ...(rule.BucketKeyEnabled === undefined ? {} : { BucketKeyEnabled: rule.BucketKeyEnabled }),
          }));
          await clients.s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: { Rules: rules } }));
        }
        if (props.PublicAccessBlockConfiguration) {
          await clients.s3.send(
            new PutPublicAccessBlockCommand({ Bucket: name, PublicAccessBlockConfiguration: props.PublicAccessBlockConfiguration }),
          );
        }
        set(name, {
          Arn: `arn:aws:s3:::${name}`,
          DomainName: `${name}.s3.amazonaws.com`,
          RegionalDomainName: `${name}.s3.${region}.amazonaws.com`,
        });
        break;
      }
      case 'AWS::S3::BucketPolicy': {
        const policy = options.plainHttp ? withoutTlsOnlyStatements(props.PolicyDocument) : props.PolicyDocument;
        await clients.s3.send(new PutBucketPolicyCommand({ Bucket: String(props.Bucket), Policy: JSON.stringify(policy) }));
        set(`${logicalId}`);
        break;
      }
      case 'AWS::DynamoDB::Table': {
        const name = (props.TableName as string | undefined) ?? physicalName(stackName, logicalId, 255);
        const input: CreateTableInput = {
          TableName: name,
          KeySchema: props.KeySchema as never,
          AttributeDefinitions: props.AttributeDefinitions as never,
          BillingMode: (props.BillingMode as never) ?? 'PROVISIONED',
          ...(props.ProvisionedThroughput ? { ProvisionedThroughput: props.ProvisionedThroughput as never } : {}),
          ...(props.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: props.GlobalSecondaryIndexes as never } : {}),
          ...(props.LocalSecondaryIndexes ? { LocalSecondaryIndexes: props.LocalSecondaryIndexes as never } : {}),
          ...(props.StreamSpecification
            ? { StreamSpecification: { StreamEnabled: true, ...(props.StreamSpecification) } }
            : {}),
        };
        const created = await clients.dynamodb.send(new CreateTableCommand(input));
        const ttl = props.TimeToLiveSpecification as { AttributeName: string; Enabled: boolean } | undefined;
        if (ttl?.Enabled) {
          await clients.dynamodb.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: ttl }));
        }
        const pitr = props.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean } | undefined;
        if (pitr?.PointInTimeRecoveryEnabled) {
          await clients.dynamodb.send(
            new UpdateContinuousBackupsCommand({
              TableName: name,
              PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
            }),
          );
        }
        set(name, {
          Arn: created.TableDescription?.TableArn ?? arn('dynamodb', `table/${name}`),
          ...(created.TableDescription?.LatestStreamArn ? { StreamArn: created.TableDescription.LatestStreamArn } : {}),
        });
        break;
      }
      case 'AWS::SQS::Queue': {
        const fifo = props.FifoQueue === true || props.FifoQueue === 'true';
        const name = (props.QueueName as string | undefined) ?? physicalName(stackName, logicalId, 80, fifo ? { suffix: '.fifo' } : {});
        const attributes: Record<string, string> = {};
        for (const [key, value] of Object.entries(props)) {
          if (key === 'QueueName' || key === 'Tags' || value === undefined) continue;
          attributes[key] = attributeText(value);
        }
        const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
        const queueArn = arn('sqs', name);
        options.queuesByArn.set(queueArn, QueueUrl!);
        set(QueueUrl!, { Arn: queueArn, QueueName: name, QueueUrl: QueueUrl! });
        break;
      }
      case 'AWS::SQS::QueuePolicy': {
        for (const queueUrl of props.Queues as string[]) {
          await clients.sqs.send(
            new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: { Policy: JSON.stringify(props.PolicyDocument) } }),
          );
        }
        set(logicalId);
        break;
      }
      case 'AWS::SNS::Topic': {
        const fifo = props.FifoTopic === true || props.FifoTopic === 'true';
        const name = (props.TopicName as string | undefined) ?? physicalName(stackName, logicalId, 256, fifo ? { suffix: '.fifo' } : {});
        const attributes: Record<string, string> = {};
        for (const key of ['FifoTopic', 'ContentBasedDeduplication', 'KmsMasterKeyId', 'DisplayName']) {
          if (props[key] !== undefined) attributes[key] = attributeText(props[key]);
        }
        const { TopicArn } = await clients.sns.send(new CreateTopicCommand({ Name: name, Attributes: attributes }));
        set(TopicArn!, { TopicArn: TopicArn!, TopicName: name });
        break;
      }
      case 'AWS::SNS::TopicPolicy': {
        for (const topicArn of props.Topics as string[]) {
          await clients.sns.send(
            new SetTopicAttributesCommand({ TopicArn: topicArn, AttributeName: 'Policy', AttributeValue: JSON.stringify(props.PolicyDocument) }),
          );
        }
        set(logicalId);
        break;
      }
      case 'AWS::SNS::Subscription': {
        // The subscription is created in the topic's region, as CloudFormation does with `Region`.
        const topicRegion = (props.Region as string | undefined) ?? region;
        const attributes: Record<string, string> = {};
        for (const key of ['RawMessageDelivery', 'FilterPolicy', 'FilterPolicyScope', 'RedrivePolicy', 'DeliveryPolicy']) {
          const value = props[key];
          if (value !== undefined) attributes[key] = attributeText(value);
        }
        const { SubscriptionArn } = await options.clients.region(topicRegion).sns.send(
          new SubscribeCommand({
            TopicArn: String(props.TopicArn),
            Protocol: String(props.Protocol),
            Endpoint: String(props.Endpoint),
            Attributes: attributes,
            ReturnSubscriptionArn: true,
          }),
        );
        set(SubscriptionArn!);
        break;
      }
      case 'AWS::Lambda::Function': {
        const name = (props.FunctionName as string | undefined) ?? physicalName(stackName, logicalId, 64);
        const factory = definition.Metadata?.[HANDLER_FACTORY_METADATA];
        if (typeof factory !== 'string') {
          throw new Error(`${stackName}/${logicalId}: no ${HANDLER_FACTORY_METADATA} metadata, so it cannot run in-process`);
        }
        const fn: LocalFunction = {
          logicalId,
          stackName,
          region,
          name,
          arn: arn('lambda', `function:${name}`),
          environment: ((props.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {}),
          timeoutSeconds: Number(props.Timeout ?? 3),
          memoryMiB: Number(props.MemorySize ?? 128),
          ...(props.ReservedConcurrentExecutions === undefined ? {} : { reservedConcurrency: Number(props.ReservedConcurrentExecutions) }),
          factory,
          ...(stack.bundles.has(factory) ? { bundle: stack.bundles.get(factory)! } : {}),
          urlPath: attributeText(definition.Metadata?.[LOCAL_URL_PATH_METADATA] ?? `/${stackName}/${logicalId}`),
        };
        functions.push(fn);
        functionsByArn.set(fn.arn, fn);
        set(name, { Arn: fn.arn });
        break;
      }
      case 'AWS::Lambda::Url': {
        const target = functionsByArn.get(String(props.TargetFunctionArn));
        if (target === undefined) throw new Error(`${logicalId}: Function URL for an unknown function ${String(props.TargetFunctionArn)}`);
        const url = `${options.httpBaseUrl}${target.urlPath}/`;
        functionUrls.push({
          functionName: target.name,
          path: target.urlPath,
          url,
          invokeMode: props.InvokeMode === 'RESPONSE_STREAM' ? 'RESPONSE_STREAM' : 'BUFFERED',
        });
        set(url, { FunctionUrl: url, FunctionArn: target.arn });
        break;
      }
      case 'AWS::Lambda::EventSourceMapping': {
        const queueArn = String(props.EventSourceArn);
        const queueUrl = options.queuesByArn.get(queueArn);
        if (queueUrl === undefined) throw new Error(`${logicalId}: only SQS event sources run locally, and ${queueArn} is not a known queue`);
        const visibility = await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['FifoQueue'] }));
        const fifo = visibility.Attributes?.FifoQueue === 'true';
        eventSources.push({
          functionName: String(props.FunctionName),
          queueUrl,
          queueArn,
          region,
          batchSize: Number(props.BatchSize ?? 10),
          reportBatchItemFailures: ((props.FunctionResponseTypes as string[] | undefined) ?? []).includes('ReportBatchItemFailures'),
          maxConcurrency: Number((props.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? (fifo ? 10 : 5)),
          enabled: props.Enabled !== false,
        });
        set(`${logicalId}-local`);
        break;
      }
      case 'AWS::Events::Rule': {
        const name = (props.Name as string | undefined) ?? physicalName(stackName, logicalId, 64);
        if (typeof props.ScheduleExpression === 'string') {
          schedules.push({
            ruleName: name,
            region,
            expression: props.ScheduleExpression,
            enabled: props.State !== 'DISABLED',
            targets: ((props.Targets as { Arn: string; Input?: string }[] | undefined) ?? []).map((target) => ({
              functionArn: target.Arn,
              input: target.Input === undefined ? undefined : (JSON.parse(target.Input) as unknown),
            })),
          });
        }
        set(name, { Arn: arn('events', `rule/${name}`) });
        break;
      }
      default: {
        if (!NOT_EMULATED.has(definition.Type)) {
          throw new Error(`${stackName}/${logicalId}: the local runtime cannot create ${definition.Type}`);
        }
        notEmulated.push(definition.Type);
        const name = physicalName(stackName, logicalId, 64);
        set(name, { Arn: arn(definition.Type.split('::')[1]!.toLowerCase(), name) });
      }
    }
  }

  const outputs = new Map<string, string>();
  for (const [name, output] of Object.entries(stack.template.Outputs ?? {})) {
    const value = String(resolveValue(output.Value, ctx));
    outputs.set(name, value);
    if (output.Export) options.exports.set(String(resolveValue(output.Export.Name, ctx)), value);
  }
  // Each function's role, its policies resolved now that everything they name exists.
  const withRoles = functions.map((fn) => ({ ...fn, role: functionRole(stack.template, fn.logicalId, ctx) }));
  return { stackName, region, resources, outputs, functions: withRoles, eventSources, functionUrls, schedules, tables: tableKeys(stack.template, ctx), notEmulated };
}
