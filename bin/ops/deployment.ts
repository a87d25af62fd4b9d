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
import { resolveTarget, type ControlPlaneResources, type Target } from './target.ts';

/**
 * The AWS resources an operator command works on: the primary region's event log, topic and
 * primary override, and a secondary region's bucket and registry, all from the target's stacks
 * (`git-geo local` or a deployment; see target.ts).
 */
export class Deployment {
  private constructor(
    readonly target: Target,
    private readonly primary: ControlPlaneResources,
  ) {}

  static async open(target: Target = resolveTarget()): Promise<Deployment> {
    return new Deployment(target, await target.controlPlane());
  }

  get config(): GeoConfig {
    return this.target.config;
  }

  private get endpoint(): string | undefined {
    return this.target.awsEndpoint;
  }

  private documents(region: string): DynamoDBDocumentClient {
    return DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(region, this.endpoint)), { marshallOptions: { removeUndefinedValues: true } });
  }

  get eventLog(): EventLog {
    return new EventLog(this.documents(this.config.primaryRegion), this.primary.eventLogTable);
  }

  get overrides(): PrimaryOverrideStore {
    return new PrimaryOverrideStore(this.documents(this.config.primaryRegion), this.primary.eventLogTable, 0);
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
    return new PrimaryOverrideStore(this.documents(this.config.primaryRegion), this.primary.eventLogTable, 0, copies);
  }

  get publisher(): ChangePublisher {
    return new ChangePublisher(new SNSClient(clientConfig(this.config.primaryRegion, this.endpoint)), this.primary.topicArn);
  }

  /** A secondary region's bucket and registry. */
  async region(region: string): Promise<{ store: S3ObjectStore; registry: Registry }> {
    const { bucket, registryTable } = await this.target.region(region);
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
