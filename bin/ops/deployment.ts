import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { userInfo } from 'node:os';
import type { GeoConfig } from '../../cdk/GeoConfig.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { ChangePublisher } from '../../lambdas/shared/events/ChangePublisher.ts';
import { PrimaryOverrideStore, type RegionalOverrideCopy } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import { SecretReader, type PrimaryCredentials } from '../../lambdas/shared/secrets/SecretReader.ts';
import { S3ObjectStore } from '../../lambdas/shared/storage/S3ObjectStore.ts';

/** Names a command may take from flags instead of the stacks' outputs (`git-geo local` prints them). */
export interface DeploymentFlags {
  stackPrefix?: string;
  eventLogTable?: string;
  topicArn?: string;
  bucket?: string;
  registryTable?: string;
}

export async function stackOutputs(stackName: string, region: string, endpoint: string | undefined): Promise<Map<string, string>> {
  const cloudformation = new CloudFormationClient(clientConfig(region, endpoint));
  try {
    const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    return new Map((Stacks[0]?.Outputs ?? []).flatMap((output) => (output.OutputKey && output.OutputValue ? [[output.OutputKey, output.OutputValue] as const] : [])));
  } finally {
    cloudformation.destroy();
  }
}

function required(outputs: Map<string, string>, name: string, stack: string, flag: string): string {
  const value = outputs.get(name);
  if (value === undefined) throw new Error(`stack ${stack} has no ${name} output; pass ${flag}`);
  return value;
}

/**
 * The AWS resources an operator command works on: the primary region's event log, topic and
 * primary override, and a secondary region's bucket and registry. Read from the stacks' outputs
 * (AWS_ENDPOINT_URL honoured), or from flags.
 */
export class Deployment {
  private constructor(
    readonly config: GeoConfig,
    private readonly endpoint: string | undefined,
    private readonly primaryNames: { eventLogTable: string; topicArn: string },
    private readonly flags: DeploymentFlags,
  ) {}

  static async open(config: GeoConfig, flags: DeploymentFlags): Promise<Deployment> {
    const endpoint = process.env.AWS_ENDPOINT_URL;
    const prefix = flags.stackPrefix ?? config.stackPrefix;
    let { eventLogTable, topicArn } = flags;
    if (eventLogTable === undefined || topicArn === undefined) {
      const stack = `${prefix}-Primary`;
      const outputs = await stackOutputs(stack, config.primaryRegion, endpoint);
      eventLogTable ??= required(outputs, 'EventLogTable', stack, '--event-log-table');
      topicArn ??= required(outputs, 'ChangeTopicArn', stack, '--topic-arn');
    }
    return new Deployment(config, endpoint, { eventLogTable, topicArn }, { ...flags, stackPrefix: prefix });
  }

  private documents(region: string): DynamoDBDocumentClient {
    return DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(region, this.endpoint)), { marshallOptions: { removeUndefinedValues: true } });
  }

  get eventLog(): EventLog {
    return new EventLog(this.documents(this.config.primaryRegion), this.primaryNames.eventLogTable);
  }

  get overrides(): PrimaryOverrideStore {
    return new PrimaryOverrideStore(this.documents(this.config.primaryRegion), this.primaryNames.eventLogTable, 0);
  }

  /**
   * The override store a promotion writes: the event log, and every secondary region's copy
   * (which that region's sync and endpoint read). A region whose registry cannot be found is
   * named on stderr: it keeps the previous primary until the promotion is run again.
   */
  async promotionOverrides(): Promise<PrimaryOverrideStore> {
    const copies: RegionalOverrideCopy[] = [];
    for (const region of this.config.secondaryRegions) {
      try {
        const { registry } = await this.region(region);
        copies.push({ region, db: this.documents(region), tableName: registry.tableName });
      } catch (error) {
        process.stderr.write(`warning: ${region}'s registry not found (${(error as Error).message}); its copy of the primary override is not written\n`);
      }
    }
    return new PrimaryOverrideStore(this.documents(this.config.primaryRegion), this.primaryNames.eventLogTable, 0, copies);
  }

  get publisher(): ChangePublisher {
    return new ChangePublisher(new SNSClient(clientConfig(this.config.primaryRegion, this.endpoint)), this.primaryNames.topicArn);
  }

  /** A secondary region's bucket and registry. */
  async region(region: string): Promise<{ store: S3ObjectStore; registry: Registry }> {
    if (!this.config.secondaryRegions.includes(region) && this.flags.bucket === undefined) {
      throw new Error(`${region} is not a secondary region (${this.config.secondaryRegions.join(', ')})`);
    }
    let { bucket, registryTable } = this.flags;
    if (bucket === undefined || registryTable === undefined) {
      const stack = `${this.flags.stackPrefix}-Region-${region}`;
      const outputs = await stackOutputs(stack, region, this.endpoint);
      bucket ??= required(outputs, 'MirrorBucket', stack, '--bucket');
      registryTable ??= required(outputs, 'RegistryTable', stack, '--registry-table');
    }
    return {
      store: new S3ObjectStore(new S3Client(clientConfig(region, this.endpoint)), bucket),
      registry: new Registry(this.documents(region), registryTable),
    };
  }

  /** Credentials from a secret in the primary region. */
  async credentials(secretName: string): Promise<PrimaryCredentials> {
    return await new SecretReader(new SecretsManagerClient(clientConfig(this.config.primaryRegion, this.endpoint))).primaryCredentials(secretName);
  }

  /** Who runs the command, for the audit trail: the AWS principal and the local user. */
  async operator(): Promise<string> {
    const local = process.env.GIT_GEO_OPERATOR ?? userInfo().username;
    const sts = new STSClient(clientConfig(this.config.primaryRegion, this.endpoint));
    try {
      const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
      return Arn === undefined ? local : `${Arn} (${local})`;
    } catch {
      return local;
    } finally {
      sts.destroy();
    }
  }
}
