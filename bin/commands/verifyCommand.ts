import Table from 'cli-table3';
import { Command } from 'commander';
import type { VerifyResult } from '../../lambdas/verify/createVerifyHandler.ts';
import { invokeRegionFunction } from '../ops/invokeRegionFunction.ts';
import { resolveTarget } from '../ops/target.ts';
import { withRegionOption, type RegionFlags } from './regionCommandOptions.ts';

interface VerifyFlags extends RegionFlags {
  shallow: boolean;
  json: boolean;
}

/**
 * `git-geo verify [--region R] [REPO]`: verifies now (deep unless --shallow), in each region's
 * own verify function, one repository or every one the region holds; damage is repaired as on
 * the schedule. Exits 1 when anything was damaged.
 */
export function verifyCommand(): Command {
  return withRegionOption(new Command('verify').description("verify regions' mirrors against their bytes and the primary, and repair what is damaged"), false)
    .argument('[repository]', 'one repository path (default: every repository the region holds)')
    .option('--shallow', 'check refs and the presence of files only, not pack contents and the object graph', false)
    .option('--json', 'print the results as JSON lines', false)
    .action(async (repository: string | undefined, flags: VerifyFlags) => {
      let damaged = 0;
      const table = new Table({ head: ['region', 'repository', 'outcome', 'details'] });
      const target = resolveTarget();
      for (const region of target.regions(flags.region)) {
        const resources = await target.region(region);
        const result = await invokeRegionFunction<VerifyResult>(resources, resources.verifyFunctionName, {
          action: 'verify',
          force: true,
          deep: !flags.shallow,
          ...(repository === undefined ? {} : { repository }),
        });
        if (flags.json) process.stdout.write(`${JSON.stringify({ region, ...result })}\n`);
        for (const [path, outcome] of Object.entries(result.outcomes ?? {})) {
          if (outcome.kind === 'repairing' || outcome.kind === 'gave-up') damaged++;
          const details =
            outcome.kind === 'verified'
              ? `${outcome.objects} objects, ${outcome.packsHashed} pack(s) hashed`
              : outcome.kind === 'repairing' || outcome.kind === 'gave-up'
                ? outcome.problems.map((problem) => problem.code).join(', ')
                : outcome.kind === 'skipped'
                  ? outcome.reason
                  : outcome.requested ? 'sync requested' : 'sync on its way';
          table.push([region, path, outcome.kind, details]);
        }
      }
      if (!flags.json) process.stdout.write(`${table.toString()}\n`);
      if (damaged > 0) process.exitCode = 1;
    });
}
