import type { Command } from 'commander';

export interface RegionFlags {
  region?: string;
}

/**
 * The region option of the operator commands. Which deployment they act on is not an option:
 * the target (GIT_GEO_TARGET, else a running `git-geo local`, else the deployed stacks; see
 * bin/ops/target.ts) names every resource.
 */
export function withRegionOption(command: Command, regionRequired: boolean, description = regionRequired ? 'the secondary region' : 'one secondary region (default: every secondary region)'): Command {
  const option = '--region <region>';
  return regionRequired ? command.requiredOption(option, description) : command.option(option, description);
}
