import Table from 'cli-table3';
import { Command } from 'commander';
import { regionStatus } from '../ops/regionStatus.ts';
import { regionsOf, resourcesFor, withRegionOptions, type RegionFlags } from './regionCommandOptions.ts';

const seconds = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

/** `git-geo status [--region R]`: per region, what is replicated, verified, behind or stuck, and the commonest failures. */
export function statusCommand(): Command {
  return withRegionOptions(new Command('status').description('show each region: replication state, lag, verification, and failures grouped by cause'), false)
    .option('--json', 'print JSON', false)
    .action(async (flags: RegionFlags & { json: boolean }) => {
      const statuses = [];
      for (const region of regionsOf(flags)) statuses.push(await regionStatus(await resourcesFor(flags, region)));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(statuses)}\n`);
        return;
      }
      const overview = new Table({ head: ['region', 'state', 'repositories', 'synced', 'verified', 'pending', 'started', 'failed', 'verif. failed', 'behind', 'stuck', 'lag p50', 'lag p95', 'lag max', 'backfill'] });
      for (const status of statuses) {
        const count = (name: string): number => status.byStatus[name] ?? 0;
        const backfill = status.control.backfill;
        overview.push([
          status.region,
          status.control.paused ? `PAUSED since ${status.control.pausedAt ?? '?'}` : 'running',
          status.repositories,
          count('synced'),
          count('verified'),
          count('pending'),
          count('started'),
          count('failed'),
          count('verification_failed'),
          status.behind,
          status.stuck,
          seconds(status.lagMs.p50),
          seconds(status.lagMs.p95),
          seconds(status.lagMs.max),
          backfill === undefined ? '-' : `${backfill.state}: ${backfill.requested} requested of ${backfill.listed}${backfill.total === undefined ? '' : `/${backfill.total}`} listed`,
        ]);
      }
      process.stdout.write(`${overview.toString()}\n`);
      const failures = new Table({ head: ['region', 'failure', 'kind', 'repositories', 'e.g.'] });
      for (const status of statuses) for (const group of status.failures) failures.push([status.region, group.code, group.kind, group.count, group.examples.join(', ')]);
      if (failures.length > 0) process.stdout.write(`Failures (transient ones retry by themselves; permanent ones wait for a fix and git-geo redrive; verification ones are repaired, then flagged):\n${failures.toString()}\n`);
    });
}
