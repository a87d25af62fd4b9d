import { AssetHashType, DockerImage, Duration, type CfnResource, type ILocalBundling } from 'aws-cdk-lib';
import { Architecture, Code, Function as LambdaFunction, LoggingFormat, Runtime, type FunctionOptions } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { SETTINGS_ENV, type ResourceEnvName } from '../../lambdas/shared/config/functionEnv.ts';
import { bundleFunction } from '../functionBundle.ts';
import { HANDLER_FACTORY_METADATA, LOCAL_URL_PATH_METADATA } from './localMetadata.ts';

import { PROJECT_ROOT } from '../projectRoot.ts';

export { PROJECT_ROOT };


/** The functions, each a directory under lambdas/ holding index.ts and create<Name>Handler.ts. */
export const GEO_FUNCTION_NAMES = ['announce', 'backfill', 'backup', 'endpoint', 'notify', 'republish', 'status', 'sync', 'verify'] as const;

export type GeoFunctionName = (typeof GEO_FUNCTION_NAMES)[number];

/** Where a function's code lives, relative to the project root, all from its name. */
export function geoFunctionFiles(name: GeoFunctionName): { readonly entry: string; readonly handlerFactory: string; readonly serviceName: string } {
  const factory = `create${name.charAt(0).toUpperCase()}${name.slice(1)}Handler`;
  return {
    entry: `lambdas/${name}/index.ts`,
    // The deployed entry calls the factory with `process.env`; the local runtime finds it here
    // and calls it with the template's environment.
    handlerFactory: `lambdas/${name}/${factory}.ts#${factory}`,
    serviceName: `git-geo-${name}`,
  };
}

export interface GeoFunctionProps extends FunctionOptions {
  /** The function's directory under lambdas/: it names the entry, the handler factory and the Powertools service. */
  readonly lambda: GeoFunctionName;
  /** Where `git-geo local` mounts this function's URL, if it has one. */
  readonly localUrlPath?: string;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** The function's settings (cdk/functionSettings.ts): one environment variable, JSON. */
  readonly settings: object;
}

/**
 * Bundling with the project's esbuild. Its entry is a property: CDK keys its cache of staged
 * assets by the bundling options' JSON, so functions built alike differ by it.
 */
class LocalEsbuild implements ILocalBundling {
  constructor(readonly entry: string) {}

  tryBundle(outputDir: string): boolean {
    bundleFunction(this.entry, outputDir);
    return true;
  }
}

/**
 * A git-geo Lambda: Node.js 24 on arm64, its code built by {@link bundleFunction} when the
 * stack is synthesized (as `cdk synth` and `git-geo local` do), JSON logs kept one month.
 */
export class GeoFunction extends LambdaFunction {
  constructor(scope: Construct, id: string, props: GeoFunctionProps) {
    const { lambda, localUrlPath, environment, settings, ...rest } = props;
    const { entry, handlerFactory, serviceName } = geoFunctionFiles(lambda);
    super(scope, id, {
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(30),
      loggingFormat: LoggingFormat.JSON,
      logGroup: new LogGroup(scope, `${id}Logs`, { retention: RetentionDays.ONE_MONTH }),
      ...rest,
      code: Code.fromAsset(PROJECT_ROOT, {
        // The asset is what was built, so its hash is the output's, not the whole project's.
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          // Never pulled: bundling is always local, with the project's own esbuild.
          image: DockerImage.fromRegistry('git-geo-local-bundling-only'),
          local: new LocalEsbuild(entry),
        },
      }),
      handler: 'index.handler',
      environment: {
        POWERTOOLS_METRICS_NAMESPACE: 'GitGeo',
        POWERTOOLS_SERVICE_NAME: serviceName,
        ...environment,
        [SETTINGS_ENV]: JSON.stringify(settings),
      },
    });
    const resource = this.node.defaultChild as CfnResource;
    resource.addMetadata(HANDLER_FACTORY_METADATA, handlerFactory);
    if (localUrlPath !== undefined) resource.addMetadata(LOCAL_URL_PATH_METADATA, localUrlPath);
  }

  /** Names one of its resources in its environment (the construct that owns the resource grants access with it). */
  setResource(name: ResourceEnvName, value: string): this {
    this.addEnvironment(name, value);
    return this;
  }
}
