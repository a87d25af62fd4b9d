import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { IAspect } from 'aws-cdk-lib';
import { CreateSecretCommand, PutSecretValueCommand, ResourceExistsException } from '@aws-sdk/client-secrets-manager';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AnyClientPlugin } from '../../lambdas/shared/aws/HandlerHooks.ts';
import { randomBytes } from 'node:crypto';
import { PROJECT_ROOT } from '../../cdk/constructs/GeoFunction.ts';
import type { GeoConfig } from '../../cdk/GeoConfig.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';
import { S3ObjectStore } from '../../lambdas/shared/storage/S3ObjectStore.ts';
import { AwsClients } from './AwsClients.ts';
import { FunctionUrlServer } from './FunctionUrlServer.ts';
import { iamEnforcement } from './iam/iamEnforcement.ts';
import { LocalLambda } from './LocalLambda.ts';
import type { LocalFunction, ProvisionedStack } from './LocalResources.ts';
import { provisionStack } from './provisionStack.ts';
import { LAMBDA_API_PREFIX, REGIONS_CONTROL_PATH, RegionOutage } from './RegionOutage.ts';
import { Scheduler } from './Scheduler.ts';
import { EVENT_SOURCE_MAPPINGS_PATH, LocalEventSourceMappings } from './LocalEventSourceMappings.ts';
import { INVOKE_PATH, invokeLocally } from './invokeLocally.ts';
import { localStatusPage, STATUS_PATH } from './localStatusPage.ts';
import { startMoto, type MotoServer } from './startMoto.ts';
import { synthesize } from './synthesize.ts';

export interface LocalRuntimeOptions {
  readonly config: GeoConfig;
  /** The shared webhook secret. The runtime refuses to start without one. */
  readonly webhookSecret: string | undefined;
  /** Read credentials for the primary, stored in the secret the configuration names. */
  readonly primaryCredentials?: { readonly username: string; readonly password: string };
  /** AWS endpoint (LocalStack, moto); defaults to AWS_ENDPOINT_URL, else a moto the runtime starts. */
  readonly awsEndpoint?: string;
  readonly port?: number;
  readonly host?: string;
  /** Called with problems inside functions and pollers (the runtime keeps going, as Lambda does). */
  readonly onError?: (error: unknown) => void;
  /**
   * SDK plugins for the AWS clients each function creates (see HandlerHooks), chosen per
   * function: the benchmarks count every request of every function this way.
   */
  readonly clientPlugins?: (fn: LocalFunction) => readonly AnyClientPlugin[];
  /**
   * Every AWS call of a function is checked against its own role's policies from the template,
   * and a call the role does not allow fails with AccessDenied, as in AWS. @default true
   */
  readonly enforceIam?: boolean;
  /** CDK aspects applied to the app before it is synthesized (a test removes one grant this way). */
  readonly aspects?: readonly IAspect[];
}

export interface RegionInfo {
  /** The region's Git endpoint: clone `<gitUrl>/<repository-path>.git`. */
  readonly gitUrl: string;
  readonly bucket: string;
  readonly registryTable: string;
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
  /** The region's functions (as their stack outputs name them), for the CLI's pause, verify and backfill. */
  readonly syncFunctionName: string;
  readonly verifyFunctionName: string;
  readonly backfillFunctionName?: string;
}

export interface ControlPlaneInfo {
  readonly role: string;
  readonly webhookUrl: string;
  readonly eventLogTable: string;
  readonly topicArn: string;
}

export interface LocalRuntime {
  readonly webhookUrl: string;
  /** The status page (health of every region, failures, lag, a repository search). */
  readonly statusUrl: string;
  /** Base URL of the local HTTP server. */
  readonly endpoint: string;
  /** The AWS endpoint every client of the runtime uses: the region outage proxy. */
  readonly awsEndpoint: string;
  /** The AWS endpoint behind the proxy (what no outage reaches). */
  readonly directAwsEndpoint: string;
  /** Takes whole regions offline and brings them back (also over HTTP, with the ready line's token). */
  readonly outage: RegionOutage;
  readonly account: string;
  readonly config: GeoConfig;
  readonly primary: { readonly region: string; readonly eventLogTable: string; readonly topicArn: string };
  /** Every control plane by region: the primary's, and the standby's when one is configured. */
  readonly controlPlanes: Readonly<Record<string, ControlPlaneInfo>>;
  readonly regions: Readonly<Record<string, RegionInfo>>;
  readonly stacks: readonly ProvisionedStack[];
  readonly lambdas: readonly LocalLambda[];
  readonly clients: AwsClients;
  /** EventBridge scheduled rules: they fire on their schedules, and `fire` runs one now. */
  readonly scheduler: Scheduler;
  /** The SQS event source mappings of every function: disable a region's to make it fall behind (or pause it). */
  readonly eventSourceMappings: LocalEventSourceMappings;
  /** The registry of a secondary region. */
  registry(region: string): Registry;
  /** The mirror bucket of a secondary region. */
  mirrors(region: string): ObjectStore;
  /** The line `git-geo local` prints when it is ready. */
  readyLine(): Record<string, unknown>;
  stop(): Promise<void>;
}

const LOCAL_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };

async function putSecret(clients: AwsClients, region: string, name: string, value: string): Promise<void> {
  const { secrets } = clients.region(region);
  try {
    await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  } catch (error) {
    if (!(error instanceof ResourceExistsException)) throw error;
    await secrets.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
  }
}

function requireOutput(stack: ProvisionedStack, name: string): string {
  const value = stack.outputs.get(name);
  if (value === undefined) throw new Error(`stack ${stack.stackName} has no output ${name}`);
  return value;
}

/**
 * git-geo on one machine: synthesizes the CDK app, creates what its templates declare on
 * an AWS endpoint (each resource in its stack's region), and runs every Lambda in-process
 * behind its event source as the template wires it: Function URLs on a loopback HTTP
 * server, SQS event sources as pollers with the template's batch size and concurrency.
 * Everything is derived from the templates; there is no second list of resources.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  if (options.webhookSecret === undefined || options.webhookSecret.trim() === '') {
    throw new Error('refusing to start: no webhook secret (pass --webhook-secret or set GIT_GEO_WEBHOOK_SECRET); git-geo accepts no unauthenticated webhooks');
  }
  const onError = options.onError ?? ((error: unknown) => console.error('[git-geo local]', error));
  let moto: MotoServer | undefined;
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (error) {
        onError(error);
      }
    }
    cleanups.length = 0;
  };
  try {
    let awsEndpoint = options.awsEndpoint ?? process.env.AWS_ENDPOINT_URL;
    if (awsEndpoint === undefined) {
      moto = await startMoto();
      cleanups.push(() => moto?.stop());
      awsEndpoint = moto.endpoint;
    }
    for (const [name, value] of Object.entries(LOCAL_CREDENTIALS)) process.env[name] ??= value;
    // Every AWS call goes through the outage proxy, so a whole region can be taken offline while the runtime runs.
    const outage = new RegionOutage();
    await outage.start(awsEndpoint);
    cleanups.push(() => outage.stop());
    const directEndpoint = awsEndpoint;
    awsEndpoint = outage.endpoint;
    const sts = new STSClient({ region: options.config.primaryRegion, endpoint: awsEndpoint });
    const { Account: account } = await sts.send(new GetCallerIdentityCommand({}));
    sts.destroy();
    if (account === undefined) throw new Error(`no account from STS at ${awsEndpoint}`);

    // A fresh stack prefix per run keeps runs sharing one emulator apart (the topic is named).
    const config: GeoConfig = { ...options.config, account, stackPrefix: `${options.config.stackPrefix}${randomBytes(3).toString('hex')}` };
    const templates = await synthesize(config, options.aspects);

    const server = new FunctionUrlServer(onError);
    const endpoint = await server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
    cleanups.push(() => server.close());

    const clients = new AwsClients(awsEndpoint);
    cleanups.push(() => clients.destroy());
    // Every region reads its own replica of each secret, as Secrets Manager replica regions give it in AWS.
    for (const region of [config.primaryRegion, ...config.secondaryRegions]) {
      await putSecret(clients, region, config.webhookSecretName, options.webhookSecret);
      if (config.primaryCredentialsSecretName !== undefined && options.primaryCredentials !== undefined) {
        await putSecret(clients, region, config.primaryCredentialsSecretName, JSON.stringify(options.primaryCredentials));
      }
    }

    const exports = new Map<string, string>();
    const queuesByArn = new Map<string, string>();
    const stacks: ProvisionedStack[] = [];
    for (const template of templates) {
      stacks.push(await provisionStack(template, { clients, account, httpBaseUrl: endpoint, exports, queuesByArn, plainHttp: awsEndpoint.startsWith('http:') }));
    }

    const runtimeEnv = { AWS_ENDPOINT_URL: awsEndpoint };
    const tables = new Map(stacks.flatMap((stack) => [...stack.tables]));
    const lambdas = stacks.flatMap((stack) =>
      stack.functions.map((fn) => {
        const enforcement = options.enforceIam === false ? [] : [iamEnforcement(fn.role!, { account, functionName: fn.name, tables, onDenied: onError })];
        return new LocalLambda(fn, runtimeEnv, PROJECT_ROOT, { clientPlugins: [...(options.clientPlugins?.(fn) ?? []), ...enforcement] });
      }),
    );
    const lambdaByName = new Map(lambdas.map((lambda) => [lambda.name, lambda]));
    // Cold-start each function once: a configuration error stops the runtime here.
    // One at a time: module loading is not safe to race under every loader (jest's ESM one).
    for (const lambda of lambdas) await lambda.warm();

    const eventSourceMappings = new LocalEventSourceMappings(onError);
    cleanups.push(() => eventSourceMappings.stop());
    // The Lambda API (event source mappings; Invoke, RequestResponse) so the CLI's pause, verify and
    // backfill call functions here as in AWS: only under /_lambda/<token>/ (lambdaEndpoint in the ready line).
    server.api(
      LAMBDA_API_PREFIX,
      outage.lambdaApi((req, res, url, body) =>
        url.pathname.startsWith(EVENT_SOURCE_MAPPINGS_PATH) ? eventSourceMappings.handle(req, res, url, body) : url.pathname.startsWith(INVOKE_PATH) ? invokeLocally(lambdaByName, req, res, url, body) : Promise.resolve(void res.writeHead(404).end()),
      ),
    );
    server.api(REGIONS_CONTROL_PATH, (req, res, url) => outage.handleControl(req, res, url, [config.primaryRegion, ...config.secondaryRegions]));
    server.refuseWhen((lambda) => outage.isDown(lambda.fn.region));
    for (const stack of stacks) {
      for (const url of stack.functionUrls) server.mount(url.path, lambdaByName.get(url.functionName)!, url.invokeMode);
      for (const source of stack.eventSources) {
        const lambda = lambdaByName.get(source.functionName);
        if (lambda === undefined) throw new Error(`event source for unknown function ${source.functionName}`);
        eventSourceMappings.add(source, clients.region(source.region).sqs, lambda);
      }
    }

    const lambdaByArn = new Map(lambdas.map((lambda) => [lambda.fn.arn, lambda]));
    const scheduler = new Scheduler(
      stacks.flatMap((stack) => stack.schedules),
      lambdaByArn,
      account,
      onError,
    );
    scheduler.start();
    cleanups.push(() => scheduler.stop());

    const controlPlaneStacks = stacks.filter((stack) => stack.outputs.has('WebhookUrl'));
    const primaryStack = controlPlaneStacks.find((stack) => stack.outputs.get('ControlPlaneRole') !== 'standby');
    if (primaryStack === undefined) throw new Error('no stack has a WebhookUrl output');
    // The primary's control plane and the standby's, by region (git-geo failover-control-plane --runtime).
    const controlPlanes = Object.fromEntries(
      controlPlaneStacks.map((stack) => [
        stack.region,
        {
          role: stack.outputs.get('ControlPlaneRole') ?? 'primary',
          webhookUrl: requireOutput(stack, 'WebhookUrl'),
          eventLogTable: requireOutput(stack, 'EventLogTable'),
          topicArn: requireOutput(stack, 'ChangeTopicArn'),
        },
      ]),
    );
    const regions: Record<string, RegionInfo> = {};
    for (const stack of stacks.filter((candidate) => candidate.outputs.has('MirrorBucket'))) {
      regions[stack.region] = {
        gitUrl: requireOutput(stack, 'GitEndpointUrl').replace(/\/+$/, ''),
        bucket: requireOutput(stack, 'MirrorBucket'),
        registryTable: requireOutput(stack, 'RegistryTable'),
        queueUrl: requireOutput(stack, 'QueueUrl'),
        deadLetterQueueUrl: requireOutput(stack, 'DeadLetterQueueUrl'),
        syncFunctionName: requireOutput(stack, 'SyncFunctionName'),
        verifyFunctionName: requireOutput(stack, 'VerifyFunctionName'),
        ...(stack.outputs.has('BackfillFunctionName') ? { backfillFunctionName: requireOutput(stack, 'BackfillFunctionName') } : {}),
      };
    }
    const webhookUrl = requireOutput(primaryStack, 'WebhookUrl');
    const statusPage = localStatusPage(config, awsEndpoint, regions);
    cleanups.push(() => statusPage.close());
    server.api(STATUS_PATH, statusPage.handle);
    const statusUrl = `${endpoint}${STATUS_PATH}/`;
    const regionInfo = (region: string): RegionInfo => {
      const info = regions[region];
      if (info === undefined) throw new Error(`${region} is not a secondary region of this runtime`);
      return info;
    };
    const lambdaEndpoint = `${endpoint}${LAMBDA_API_PREFIX}${outage.token}`;
    return {
      webhookUrl,
      statusUrl,
      endpoint,
      awsEndpoint,
      directAwsEndpoint: directEndpoint,
      outage,
      account,
      config,
      controlPlanes,
      primary: {
        region: primaryStack.region,
        eventLogTable: requireOutput(primaryStack, 'EventLogTable'),
        topicArn: requireOutput(primaryStack, 'ChangeTopicArn'),
      },
      regions,
      stacks,
      lambdas,
      clients,
      scheduler,
      eventSourceMappings,
      registry: (region) =>
        new Registry(
          DynamoDBDocumentClient.from(clients.region(region).dynamodb, { marshallOptions: { removeUndefinedValues: true } }),
          regionInfo(region).registryTable,
        ),
      mirrors: (region) => new S3ObjectStore(clients.region(region).s3, regionInfo(region).bucket),
      readyLine: () => ({
        webhookUrl,
        statusUrl,
        endpoint,
        // The runtime answers the Lambda API's event source mapping calls here (git-geo pause/resume --lambda-endpoint).
        lambdaEndpoint,
        // Required by the Lambda API (in lambdaEndpoint) and the region outage control (Authorization: Bearer).
        controlToken: outage.token,
        regionsControl: `${endpoint}${REGIONS_CONTROL_PATH}`,
        awsEndpoint,
        primaryRegion: primaryStack.region,
        eventLogTable: requireOutput(primaryStack, 'EventLogTable'),
        topicArn: requireOutput(primaryStack, 'ChangeTopicArn'),
        controlPlanes,
        regions: Object.fromEntries(
          Object.entries(regions).map(([region, info]) => [
            region,
            {
              gitUrl: info.gitUrl,
              bucket: info.bucket,
              registryTable: info.registryTable,
              queueUrl: info.queueUrl,
              deadLetterQueueUrl: info.deadLetterQueueUrl,
              syncFunctionName: info.syncFunctionName,
              verifyFunctionName: info.verifyFunctionName,
              ...(info.backfillFunctionName ? { backfillFunctionName: info.backfillFunctionName } : {}),
            },
          ]),
        ),
      }),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
