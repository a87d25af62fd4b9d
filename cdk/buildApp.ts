import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { GeoConfig } from './GeoConfig.ts';
import { suppressNagFindings } from './nagSuppressions.ts';
import { changeTopicName, eventLogTableName, PrimaryStack } from './PrimaryStack.ts';
import { RegionStack } from './RegionStack.ts';
import { primaryStackName, regionStackName, standbyControlPlaneStackName } from './stackNames.ts';

export { standbyControlPlaneStackName };

export interface GeoApp {
  readonly app: App;
  readonly primary: PrimaryStack;
  /** The standby control plane, when `standbyControlPlaneRegion` is set. */
  readonly standby?: PrimaryStack;
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
  const primaryName = primaryStackName(config.stackPrefix);
  const primary = new PrimaryStack(app, primaryName, {
    stackName: primaryName,
    env: { account, region: config.primaryRegion },
    config,
    description: 'git-geo primary: webhook endpoint, event log, change topic',
  });
  // A standby control plane in another region: recoverable webhooks and fan-out (git-geo failover-control-plane).
  const standby = config.standbyControlPlaneRegion === undefined ? undefined : standbyControlPlane(app, config, account, config.standbyControlPlaneRegion);
  const regions = new Map<string, RegionStack>();
  for (const region of config.secondaryRegions) {
    const name = regionStackName(config.stackPrefix, region);
    const stack = new RegionStack(app, name, {
      stackName: name,
      env: { account, region },
      config,
      changeTopicName: changeTopicName(primary.stackName),
      eventLogTableName: eventLogTableName(primary.stackName),
      ...(standby === undefined ? {} : { standbyTopic: { region: standby.region, name: changeTopicName(standby.stackName) } }),
      description: `git-geo secondary region ${region}: queue, mirrors, registry, sync, Git endpoint`,
    });
    stack.addStackDependency(primary);
    if (standby !== undefined) stack.addStackDependency(standby);
    regions.set(region, stack);
  }
  suppressNagFindings([primary, ...(standby === undefined ? [] : [standby]), ...regions.values()]);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, primary, ...(standby === undefined ? {} : { standby }), regions };
}

function standbyControlPlane(app: App, config: GeoConfig, account: string | undefined, region: string): PrimaryStack {
  const name = standbyControlPlaneStackName(config, region);
  return new PrimaryStack(app, name, {
    stackName: name,
    env: { account, region },
    config,
    role: 'standby',
    description: `git-geo standby control plane in ${region}: webhook endpoint, event log and change topic for a control-plane failover`,
  });
}
