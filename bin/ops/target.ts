import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as z from 'zod';
import { parseGeoConfig, type GeoConfig } from '../../cdk/GeoConfig.ts';
import { PROJECT_ROOT } from '../../cdk/projectRoot.ts';
import { primaryStackName, regionStackName, standbyControlPlaneStackName } from '../../cdk/stackNames.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { projectConfig } from '../commands/projectConfig.ts';
import type { RegionInfo } from '../local/startLocalRuntime.ts';
import { NoTargetError } from './errors/NoTargetError.ts';
import { UnknownRegionError } from './errors/UnknownRegionError.ts';

/**
 * Which deployment the operator commands act on. Unset: the running `git-geo local` whose
 * descriptor is at DEFAULT_TARGET_FILE, else the stacks deployed from cdk.json. A path: that
 * `git-geo local`'s descriptor. `aws` or `aws:<stackPrefix>`: the deployed stacks.
 */
export const TARGET_ENV = 'GIT_GEO_TARGET';

/** Where `git-geo local` writes its descriptor, and where every command looks for it. */
export const DEFAULT_TARGET_FILE = join(PROJECT_ROOT, '.git-geo', 'local.json');

/** A secondary region's resources, from its stack's outputs (what the local runtime knows of a region, but its Git URL). */
export interface RegionResources
  extends Pick<RegionInfo, 'bucket' | 'registryTable' | 'queueUrl' | 'deadLetterQueueUrl' | 'syncFunctionName' | 'verifyFunctionName' | 'backfillFunctionName'> {
  readonly region: string;
  /** Where to call the Lambda API (`git-geo local` answers it itself); undefined: AWS's own. */
  readonly lambdaEndpoint?: string;
  /** Where to call the other AWS APIs; undefined: AWS's own. */
  readonly awsEndpoint?: string;
}

/** A control plane's resources (the primary's, or the standby's), from its stack's outputs. */
export interface ControlPlaneResources {
  readonly region: string;
  readonly role: 'primary' | 'standby';
  readonly webhookUrl: string;
  readonly eventLogTable: string;
  readonly topicArn: string;
  readonly awsEndpoint?: string;
}

/** What `git-geo local` writes to its descriptor file: its ready line, who runs it, its configuration and its stacks' outputs. */
export const LocalDescriptorSchema = z.looseObject({
  pid: z.number().int().positive(),
  awsEndpoint: z.string(),
  lambdaEndpoint: z.string(),
  config: z.record(z.string(), z.unknown()),
  stacks: z.array(z.object({ stackName: z.string(), region: z.string(), outputs: z.record(z.string(), z.string()) })),
});
export type LocalDescriptor = z.infer<typeof LocalDescriptorSchema>;

type OutputsReader = (stackName: string, region: string) => Promise<ReadonlyMap<string, string> | undefined>;

/** A deployment (real or `git-geo local`): its configuration, endpoints, and each stack's outputs by name. */
export class Target {
  constructor(
    readonly kind: 'local' | 'aws',
    /** For people: which deployment this is and how it was chosen. */
    readonly description: string,
    readonly config: GeoConfig,
    readonly awsEndpoint: string | undefined,
    readonly lambdaEndpoint: string | undefined,
    private readonly readOutputs: OutputsReader,
  ) {}

  /** The region named, checked, or every secondary region. */
  regions(only?: string): string[] {
    return only === undefined ? [...this.config.secondaryRegions] : [this.checkRegion(only)];
  }

  checkRegion(region: string): string {
    if (!this.config.secondaryRegions.includes(region)) {
      throw new UnknownRegionError(`${region} is not a secondary region of ${this.description} (it has ${this.config.secondaryRegions.join(', ')})`, { data: { region } });
    }
    return region;
  }

  async region(region: string): Promise<RegionResources> {
    this.checkRegion(region);
    const stack = regionStackName(this.config.stackPrefix, region);
    const output = await this.outputs(stack, region);
    const backfill = output.optional('BackfillFunctionName');
    return {
      region,
      bucket: output('MirrorBucket'),
      registryTable: output('RegistryTable'),
      queueUrl: output('QueueUrl'),
      deadLetterQueueUrl: output('DeadLetterQueueUrl'),
      syncFunctionName: output('SyncFunctionName'),
      verifyFunctionName: output('VerifyFunctionName'),
      ...(backfill ? { backfillFunctionName: backfill } : {}),
      ...(this.lambdaEndpoint ?? this.awsEndpoint ? { lambdaEndpoint: this.lambdaEndpoint ?? this.awsEndpoint } : {}),
      ...(this.awsEndpoint ? { awsEndpoint: this.awsEndpoint } : {}),
    };
  }

  /** The regions holding a control plane: the primary region, and the standby's when configured. */
  controlPlaneRegions(): string[] {
    const standby = this.config.standbyControlPlaneRegion;
    return [this.config.primaryRegion, ...(standby === undefined ? [] : [standby])];
  }

  /** A control plane's resources; the primary region's by default. */
  async controlPlane(region: string = this.config.primaryRegion): Promise<ControlPlaneResources> {
    if (!this.controlPlaneRegions().includes(region)) {
      throw new UnknownRegionError(
        `${region} holds no control plane of ${this.description}: the primary is in ${this.config.primaryRegion}, the standby in ${this.config.standbyControlPlaneRegion ?? '(none: set standbyControlPlaneRegion and deploy)'}`,
        { data: { region } },
      );
    }
    const primary = region === this.config.primaryRegion;
    const stack = primary ? primaryStackName(this.config.stackPrefix) : standbyControlPlaneStackName(this.config, region);
    const output = await this.outputs(stack, region);
    return {
      region,
      role: primary ? 'primary' : 'standby',
      webhookUrl: output('WebhookUrl'),
      eventLogTable: output('EventLogTable'),
      topicArn: output('ChangeTopicArn'),
      ...(this.awsEndpoint ? { awsEndpoint: this.awsEndpoint } : {}),
    };
  }

  private async outputs(stackName: string, region: string): Promise<{ (name: string): string; optional(name: string): string | undefined }> {
    const outputs = await this.readOutputs(stackName, region);
    if (outputs === undefined) {
      throw new NoTargetError(`stack ${stackName} (${region}) not found in ${this.description}${this.kind === 'aws' ? `: deploy it (cdk deploy), or start git-geo local` : ''}`, { data: { stackName, region } });
    }
    const output = (name: string): string => {
      const value = outputs.get(name);
      if (value === undefined || value === '') throw new NoTargetError(`stack ${stackName} has no ${name} output (${this.description}); redeploy it`, { data: { stackName, output: name } });
      return value;
    };
    return Object.assign(output, { optional: (name: string) => outputs.get(name) });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it runs, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Reads a descriptor file; undefined when there is none. Throws when it is unreadable or its runtime has stopped. */
export function readLocalDescriptor(file: string): LocalDescriptor | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NoTargetError(`cannot read git-geo local's descriptor ${file}: ${(error as Error).message}`, { cause: error, data: { file } });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new NoTargetError(`${file} is not git-geo local's descriptor (not JSON)`, { cause: error, data: { file } });
  }
  const result = LocalDescriptorSchema.safeParse(parsed);
  if (!result.success) {
    throw new NoTargetError(`${file} is not git-geo local's descriptor: ${result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`, { data: { file } });
  }
  return result.data;
}

function localTarget(file: string, descriptor: LocalDescriptor, how: string): Target {
  if (!isRunning(descriptor.pid)) {
    throw new NoTargetError(`git-geo local (pid ${descriptor.pid}, descriptor ${file}) is no longer running: start it again, or delete the file to target the deployed stacks`, { data: { file, pid: descriptor.pid } });
  }
  const config = parseGeoConfig(descriptor.config);
  const stacks = new Map(descriptor.stacks.map((stack) => [stack.stackName, stack]));
  // Its AWS endpoint is an emulator: any credentials do, and a fresh shell has none.
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  return new Target('local', `git-geo local (pid ${descriptor.pid}, ${how} ${file})`, config, descriptor.awsEndpoint, descriptor.lambdaEndpoint, (stackName, region) => {
    const stack = stacks.get(stackName);
    return Promise.resolve(stack === undefined || stack.region !== region ? undefined : new Map(Object.entries(stack.outputs)));
  });
}

function awsTarget(stackPrefix: string | undefined, how: string): Target {
  const base = projectConfig();
  const config = stackPrefix === undefined ? base : { ...base, stackPrefix };
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const where = endpoint === undefined ? 'AWS' : `AWS at ${endpoint}`;
  const description = `the ${config.stackPrefix} stacks in ${where} (${how})`;
  return new Target('aws', description, config, endpoint, undefined, async (stackName, region) => {
    const cloudformation = new CloudFormationClient(clientConfig(region, endpoint));
    try {
      const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
      const stack = Stacks[0];
      if (stack === undefined) return undefined;
      return new Map((stack.Outputs ?? []).flatMap((output) => (output.OutputKey && output.OutputValue ? [[output.OutputKey, output.OutputValue] as const] : [])));
    } catch (error) {
      // CloudFormation answers a missing stack with a ValidationError "Stack with id X does not exist".
      if ((error as Error).name === 'ValidationError' && /does not exist/.test((error as Error).message)) return undefined;
      throw new NoTargetError(`cannot read stack ${stackName} in ${region} of ${description}: ${(error as Error).message}`, { cause: error, data: { stackName, region } });
    } finally {
      cloudformation.destroy();
    }
  });
}

/**
 * The deployment every operator command acts on (see TARGET_ENV). Resources always come from
 * the stacks' outputs: `git-geo local` records its stacks' outputs in its descriptor, a real
 * deployment has them in CloudFormation. Nobody types a table name.
 */
export function resolveTarget(env: NodeJS.ProcessEnv = process.env): Target {
  const value = env[TARGET_ENV]?.trim();
  if (value === undefined || value === '') {
    const descriptor = readLocalDescriptor(DEFAULT_TARGET_FILE);
    return descriptor === undefined
      ? awsTarget(undefined, `chosen because no git-geo local is running (no ${DEFAULT_TARGET_FILE}) and ${TARGET_ENV} is unset`)
      : localTarget(DEFAULT_TARGET_FILE, descriptor, 'descriptor');
  }
  const aws = /^aws(?::(.+))?$/.exec(value);
  if (aws) return awsTarget(aws[1], `${TARGET_ENV}=${value}`);
  const file = resolve(value);
  const descriptor = readLocalDescriptor(file);
  if (descriptor === undefined) {
    throw new NoTargetError(`${TARGET_ENV}=${value}: no such file. Point it at the descriptor git-geo local writes (it prints its path), or set ${TARGET_ENV}=aws for the deployed stacks`, { data: { file } });
  }
  return localTarget(file, descriptor, `${TARGET_ENV}=`);
}

/** Where `git-geo local` writes its descriptor: GIT_GEO_TARGET when it names a file, else DEFAULT_TARGET_FILE. */
export function localDescriptorFile(env: NodeJS.ProcessEnv = process.env): string {
  const value = env[TARGET_ENV]?.trim();
  if (value === undefined || value === '') return DEFAULT_TARGET_FILE;
  if (/^aws(:|$)/.test(value)) {
    throw new NoTargetError(`${TARGET_ENV}=${value} names the deployed stacks; git-geo local writes its descriptor to a file: unset ${TARGET_ENV}, or set it to a path`);
  }
  return resolve(value);
}
