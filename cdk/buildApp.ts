import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { GeoConfig } from './GeoConfig.ts';
import { suppressNagFindings } from './nagSuppressions.ts';
import { changeTopicName, eventLogTableName, PrimaryStack } from './PrimaryStack.ts';
import { RegionStack, regionStackName } from './RegionStack.ts';

export interface GeoApp {
  readonly app: App;
  readonly primary: PrimaryStack;
  /** One stack per secondary region, by region. */
  readonly regions: ReadonlyMap<string, RegionStack>;
}

export interface BuildAppOptions {
  readonly app?: App;
  /** Run cdk-nag's AWS Solutions checks. @default true */
  readonly nag?: boolean;
}

/** Builds git-geo's stacks: one in the primary region, one per secondary region. */
export function buildApp(config: GeoConfig, options: BuildAppOptions = {}): GeoApp {
  const app = options.app ?? new App();
  const account = config.account ?? process.env.CDK_DEFAULT_ACCOUNT;
  const primaryName = `${config.stackPrefix}-Primary`;
  const primary = new PrimaryStack(app, primaryName, {
    stackName: primaryName,
    env: { account, region: config.primaryRegion },
    config,
    description: 'git-geo primary: webhook endpoint, event log, change topic',
  });
  const regions = new Map<string, RegionStack>();
  for (const region of config.secondaryRegions) {
    const name = regionStackName(config.stackPrefix, region);
    const stack = new RegionStack(app, name, {
      stackName: name,
      env: { account, region },
      config,
      changeTopicName: changeTopicName(primary.stackName),
      eventLogTableName: eventLogTableName(primary.stackName),
      description: `git-geo secondary region ${region}: queue, mirrors, registry, sync, Git endpoint`,
    });
    stack.addStackDependency(primary);
    regions.set(region, stack);
  }
  suppressNagFindings([primary, ...regions.values()]);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, primary, regions };
}
