import type { Context } from 'aws-lambda';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HandlerHooks } from '../../lambdas/shared/aws/HandlerHooks.ts';
import { installAwsLambdaGlobal, isStreamingHandler, type RuntimeResponseStream } from './awslambdaGlobal.ts';
import type { LocalFunction } from './LocalResources.ts';

export type AnyHandler = (event: unknown, context: Context) => Promise<unknown>;
type StreamingHandler = (event: unknown, responseStream: RuntimeResponseStream, context: Context) => Promise<unknown>;
type HandlerFactory = (env: Readonly<Record<string, string | undefined>>, hooks?: HandlerHooks) => Promise<AnyHandler> | AnyHandler;

/** Lambda's default concurrency limit per account and region: functions without a reservation share it. */
export const ACCOUNT_CONCURRENCY = 1000;

/** Lambda refuses an invocation past the function's concurrency (HTTP 429, TooManyRequestsException). */
export class LambdaThrottledError extends Error {
  override readonly name = 'TooManyRequestsException';
  readonly reason = 'ReservedFunctionConcurrentInvocationLimitExceeded';
}

// One import per bundle for the whole process (every region's instance of a function shares it).
const modules = new Map<string, Promise<Record<string, unknown>>>();

/**
 * One Lambda function run in-process. Like Lambda, it keeps a pool of initialised
 * instances: an invocation takes an idle one or cold-starts a new one through the
 * function's handler factory, with the environment the template declares. Like Lambda, it runs
 * at most its reserved concurrency (or the account's) at once and throttles past it at once
 * (LambdaThrottledError), rather than queueing invocations.
 */
export class LocalLambda {
  private readonly idle: AnyHandler[] = [];
  private invocations = 0;
  private active = 0;
  private throttles = 0;
  /** Environment changed since the template (UpdateFunctionConfiguration, as a redeploy does). */
  private environmentUpdates: Record<string, string> = {};

  constructor(
    readonly fn: LocalFunction,
    private readonly runtimeEnv: Readonly<Record<string, string>>,
    private readonly projectRoot: string,
    /** Passed to the handler factory at every cold start (the benchmarks count requests with it). */
    private readonly hooks?: HandlerHooks,
  ) {}

  get name(): string {
    return this.fn.name;
  }

  get invocationCount(): number {
    return this.invocations;
  }

  /** Invocations refused because the function was at its concurrency. */
  get throttleCount(): number {
    return this.throttles;
  }

  /** Invocations running now. */
  get activeInvocations(): number {
    return this.active;
  }

  get concurrencyLimit(): number {
    return this.fn.reservedConcurrency ?? ACCOUNT_CONCURRENCY;
  }

  /**
   * Changes environment variables as a deployment's UpdateFunctionConfiguration does: instances
   * already initialised are discarded, so the next invocation cold-starts with the new values.
   */
  updateEnvironment(changes: Readonly<Record<string, string>>): void {
    this.environmentUpdates = { ...this.environmentUpdates, ...changes };
    this.idle.length = 0;
  }

  /** The environment the function has now: the template's, with any updates. */
  get environment(): Readonly<Record<string, string>> {
    return { ...this.fn.environment, ...this.environmentUpdates };
  }

  /** Cold-starts one instance now, so a configuration error stops the runtime at startup. */
  async warm(): Promise<void> {
    this.idle.push(await this.coldStart());
  }

  async invoke(event: unknown): Promise<unknown> {
    return this.run((instance, context) => {
      if (isStreamingHandler(instance)) throw new Error(`${this.fn.name} streams its responses; invoke it through a RESPONSE_STREAM Function URL`);
      return instance(event, context);
    });
  }

  /**
   * Invokes a handler wrapped with `awslambda.streamifyResponse`, as InvokeWithResponseStream
   * does: it writes its response to `responseStream`. Resolves when the handler is done.
   */
  async invokeStreaming(event: unknown, responseStream: RuntimeResponseStream): Promise<void> {
    await this.run(async (instance, context) => {
      if (!isStreamingHandler(instance)) throw new Error(`${this.fn.name} is not a streaming handler (awslambda.streamifyResponse)`);
      await (instance as unknown as StreamingHandler)(event, responseStream, context);
    }, () => responseStream.destroy(new Error('the function timed out')));
  }

  private async run<T>(call: (instance: AnyHandler, context: Context) => Promise<T>, onTimeout?: () => void): Promise<T> {
    if (this.active >= this.concurrencyLimit) {
      this.throttles++;
      throw new LambdaThrottledError(`Rate Exceeded: ${this.fn.name} is at its concurrency of ${this.concurrencyLimit}`);
    }
    this.active++;
    try {
      return await this.runInstance(call, onTimeout);
    } finally {
      this.active--;
    }
  }

  private async runInstance<T>(call: (instance: AnyHandler, context: Context) => Promise<T>, onTimeout?: () => void): Promise<T> {
    const instance = this.idle.pop() ?? (await this.coldStart());
    this.invocations++;
    const deadline = Date.now() + this.fn.timeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.();
        reject(new Error(`Task timed out after ${this.fn.timeoutSeconds.toFixed(2)} seconds`));
      }, this.fn.timeoutSeconds * 1000);
    });
    let healthy = true;
    try {
      return await Promise.race([call(instance, this.context(deadline)), timeout]);
    } catch (error) {
      // Lambda discards an instance that timed out; so do we.
      healthy = !(error instanceof Error && error.message.startsWith('Task timed out'));
      throw error;
    } finally {
      clearTimeout(timer);
      if (healthy) this.idle.push(instance);
    }
  }

  private async coldStart(): Promise<AnyHandler> {
    const [modulePath, exportName] = this.fn.factory.split('#');
    if (!modulePath || !exportName) throw new Error(`${this.fn.name}: handler factory must be module#export`);
    // The runtime's global, which streaming handlers use when they are built.
    installAwsLambdaGlobal();
    // The bundle `cdk deploy` ships, which exports the factory by name; a test fixture's module otherwise.
    const url = pathToFileURL(this.fn.bundle ?? join(this.projectRoot, modulePath)).href;
    let loading = modules.get(url);
    if (loading === undefined) {
      loading = import(url) as Promise<Record<string, unknown>>;
      modules.set(url, loading);
    }
    const module = await loading;
    const factory = module[exportName] as HandlerFactory | undefined;
    if (typeof factory !== 'function') throw new Error(`${this.fn.name}: ${modulePath} has no export ${exportName}`);
    return await factory({
      ...this.fn.environment,
      ...this.environmentUpdates,
      AWS_REGION: this.fn.region,
      AWS_DEFAULT_REGION: this.fn.region,
      AWS_LAMBDA_FUNCTION_NAME: this.fn.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(this.fn.memoryMiB),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      ...this.runtimeEnv,
    }, this.hooks);
  }

  private context(deadline: number): Context {
    return {
      callbackWaitsForEmptyEventLoop: true,
      functionName: this.fn.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: this.fn.arn,
      memoryLimitInMB: String(this.fn.memoryMiB),
      awsRequestId: randomUUID(),
      logGroupName: `/aws/lambda/${this.fn.name}`,
      logStreamName: `local/${randomUUID()}`,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
  }
}
