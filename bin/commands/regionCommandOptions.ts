import type { Command } from 'commander';
import { regionResources, type RegionResources } from '../ops/regionResources.ts';
import { projectConfig } from './projectConfig.ts';

export interface RegionFlags {
  region?: string;
  stackPrefix?: string;
  runtime?: string;
}

/** The options every region command takes: which region, and where its resources are named. */
export function withRegionOptions(command: Command, regionRequired: boolean): Command {
  const option = '--region <region>';
  const description = regionRequired ? 'the secondary region' : 'the secondary region (default: every secondary region)';
  return (regionRequired ? command.requiredOption(option, description) : command.option(option, description))
    .option('--stack-prefix <prefix>', 'stack prefix (default: cdk.json); resources are read from the region stack outputs')
    .option('--runtime <ready-line>', "git-geo local's ready line (JSON, or a file holding it): use the local runtime's resources");
}

/** The regions a command covers: the one named, else every region of the runtime or the configuration. */
export function regionsOf(flags: RegionFlags): string[] {
  if (flags.region !== undefined) return [flags.region];
  if (flags.runtime !== undefined) {
    const text = flags.runtime.trim().startsWith('{') ? flags.runtime : '';
    if (text) return Object.keys((JSON.parse(text) as { regions?: Record<string, unknown> }).regions ?? {});
  }
  return projectConfig().secondaryRegions;
}

export async function resourcesFor(flags: RegionFlags, region: string): Promise<RegionResources> {
  return await regionResources({ region, stackPrefix: flags.stackPrefix ?? projectConfig().stackPrefix, ...(flags.runtime ? { runtime: flags.runtime } : {}) });
}
