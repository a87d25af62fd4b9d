import type { FunctionRole } from './iam/FunctionRole.ts';
import type { TableKeys } from './iam/requestAuthorizations.ts';
import type { PhysicalResource } from './TemplateResolver.ts';

export interface CfnResourceDefinition {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly Metadata?: Record<string, unknown>;
  readonly Condition?: string;
}

export interface CfnTemplate {
  readonly Resources: Record<string, CfnResourceDefinition>;
  readonly Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
}

/** One stack of the synthesized cloud assembly, as the local runtime provisions it. */
export interface SynthesizedStack {
  readonly stackName: string;
  readonly region: string;
  readonly template: CfnTemplate;
  /** Each function's esbuild bundle (its `index.mjs`), by handler factory (`module#export`). */
  readonly bundles: ReadonlyMap<string, string>;
}

/** A Lambda function the template declares, to be run in-process. */
export interface LocalFunction {
  readonly logicalId: string;
  readonly stackName: string;
  readonly region: string;
  readonly name: string;
  readonly arn: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memoryMiB: number;
  /** ReservedConcurrentExecutions: at most this many instances at once; undefined means the account's limit. */
  readonly reservedConcurrency?: number;
  /** `module#export` of the handler factory, relative to the project root. */
  readonly factory: string;
  /**
   * The function's esbuild bundle, which exports the factory under the same name. Without one
   * (test fixtures only) the factory is imported from its module in the project.
   */
  readonly bundle?: string;
  /** Its execution role and the role's policies, resolved (what the local runtime enforces). */
  readonly role?: FunctionRole;
  /** Where its Function URL is mounted on the local HTTP server. */
  readonly urlPath: string;
}

/** An SQS event source mapping, as the template wires it. */
export interface LocalEventSource {
  readonly functionName: string;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly batchSize: number;
  readonly reportBatchItemFailures: boolean;
  readonly maxConcurrency: number;
  readonly enabled: boolean;
}

export interface LocalFunctionUrl {
  readonly functionName: string;
  readonly path: string;
  readonly url: string;
  readonly invokeMode: 'BUFFERED' | 'RESPONSE_STREAM';
}

/** An EventBridge rule with a schedule, targeting functions. */
export interface LocalSchedule {
  readonly ruleName: string;
  readonly region: string;
  readonly expression: string;
  readonly enabled: boolean;
  /** Each target's constant input; undefined means EventBridge's Scheduled Event. */
  readonly targets: readonly { readonly functionArn: string; readonly input: unknown }[];
}

export interface ProvisionedStack {
  readonly stackName: string;
  readonly region: string;
  readonly resources: ReadonlyMap<string, PhysicalResource>;
  readonly outputs: ReadonlyMap<string, string>;
  readonly functions: readonly LocalFunction[];
  readonly eventSources: readonly LocalEventSource[];
  readonly functionUrls: readonly LocalFunctionUrl[];
  readonly schedules: readonly LocalSchedule[];
  /** The key attributes of the stack's tables, by physical name (for IAM's dynamodb:LeadingKeys). */
  readonly tables: ReadonlyMap<string, TableKeys>;
  /** Resource types present in the template that the emulator has no counterpart for (IAM, logs). */
  readonly notEmulated: readonly string[];
}
