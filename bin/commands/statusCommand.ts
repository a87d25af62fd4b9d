import Table from 'cli-table3';
import { Command } from 'commander';
import type { UnreachableRegion } from '../../lambdas/status/deploymentStatus.ts';
import { deploymentStatus, repositoryAcrossRegions, statusSettings } from '../ops/regionStatus.ts';
import { resolveTarget, type RegionResources } from '../ops/target.ts';
import { withRegionOption, type RegionFlags } from './regionCommandOptions.ts';

const seconds = (ms: number | undefined): string => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

/**
 * `git-geo status [--region R] [--repository PATH]`: per region, its health and why, what is
 * replicated, verified, behind or stuck, and the commonest failures; or one repository in every
 * region. It reads what the status page reads (lambdas/status/deploymentStatus.ts), and a region
 * that cannot be read is shown unreachable, not left out.
 */
export function statusCommand(): Command {
  return withRegionOption(new Command('status').description('show each region: health, replication state, lag, verification, and failures grouped by cause'), false)
    .option('--repository <path>', "show one repository's state in every region")
    .option('--json', 'print JSON', false)
    .action(async (flags: RegionFlags & { json: boolean; repository?: string }) => {
      const target = resolveTarget();
      const settings = statusSettings(target.config);
      const found: RegionResources[] = [];
      const unresolved: UnreachableRegion[] = [];
      for (const region of target.regions(flags.region)) {
        try {
          found.push(await target.region(region));
        } catch (error) {
          unresolved.push({ region, health: 'unreachable', reasons: [`could not find the region's resources: ${(error as Error).message}`], checkedAt: new Date().toISOString() });
        }
      }
      if (flags.repository !== undefined) {
        const states = [...(await repositoryAcrossRegions(found, flags.repository, settings.timeoutMs)), ...unresolved.map((region) => ({ region: region.region, unreachable: region.reasons[0]! }))];
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(states)}\n`);
          return;
        }
        const table = new Table({ head: ['region', 'status', 'synced sequence', 'last synced', 'lag', 'verified', 'last error'] });
        for (const entry of states) {
          if ('unreachable' in entry) table.push([entry.region, `UNREACHABLE: ${entry.unreachable}`, '', '', '', '', '']);
          else if (!entry.found) table.push([entry.region, 'not held', '', '', '', '', '']);
          else {
            const { state } = entry;
            table.push([entry.region, state.status, state.syncedSequence ?? '-', state.lastSyncedAt ?? '-', seconds(state.lagMs), state.verifiedAt ?? '-', state.lastError ? `${state.lastError.code}: ${state.lastError.message}` : '']);
          }
        }
        process.stdout.write(`${table.toString()}\n`);
        return;
      }
      const status = await deploymentStatus(found, settings);
      const statuses = [...status.regions, ...unresolved];
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(statuses)}\n`);
        return;
      }
      const overview = new Table({ head: ['region', 'health', 'state', 'repositories', 'synced', 'verified', 'failed', 'behind', 'stuck', 'lag p50', 'lag p99', 'oldest unreplicated', 'dead letters', 'backfill'] });
      const reasons: string[] = [];
      for (const region of statuses) {
        if (region.health !== 'healthy') reasons.push(...region.reasons.map((reason) => `  ${region.region}: ${reason}`));
        if (region.health === 'unreachable') {
          overview.push([region.region, 'UNREACHABLE', '', '', '', '', '', '', '', '', '', '', '', '']);
          continue;
        }
        const backfill = region.control.backfill;
        overview.push([
          region.region,
          region.health,
          region.control.paused ? `PAUSED since ${region.control.pausedAt ?? '?'}` : 'running',
          region.repositories,
          `${region.synced} (${region.percent.synced}%)`,
          `${region.verified} (${region.percent.verified}%)`,
          `${region.failed} (${region.percent.failed}%)`,
          region.behind,
          region.stuck,
          seconds(region.lagMs.p50),
          seconds(region.lagMs.p99),
          seconds(region.oldestUnreplicatedMs),
          region.deadLetters ?? '-',
          backfill === undefined ? '-' : `${backfill.state}: ${backfill.requested} requested of ${backfill.listed}${backfill.total === undefined ? '' : `/${backfill.total}`} listed`,
        ]);
      }
      process.stdout.write(`${overview.toString()}\n`);
      if (reasons.length > 0) process.stdout.write(`Why:\n${reasons.join('\n')}\n`);
      const failures = new Table({ head: ['region', 'failure', 'kind', 'repositories', 'e.g.'] });
      for (const region of statuses) {
        if (region.health === 'unreachable') continue;
        for (const group of region.failures) failures.push([region.region, group.code, group.kind, group.count, group.examples.join(', ')]);
      }
      const types = new Table({ head: ['region', 'type', 'items', 'synced', 'verified', 'failed'] });
      for (const region of statuses) {
        if (region.health === 'unreachable') continue;
        for (const [type, count] of Object.entries(region.byType)) types.push([region.region, type, count.items, count.synced, count.verified, count.failed]);
      }
      if (types.length > 0) process.stdout.write(`By type:\n${types.toString()}\n`);
      if (failures.length > 0) process.stdout.write(`Failures (transient ones retry by themselves; permanent ones wait for a fix and git-geo redrive; verification ones are repaired, then flagged):\n${failures.toString()}\n`);
    });
}
