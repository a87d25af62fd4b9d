import { Command } from 'commander';
import { formatDrillReport, runDrill } from '../ops/runDrill.ts';
import { formatRegionDrillReport, runRegionDrill } from '../ops/runRegionDrill.ts';
import { projectConfig, splitList } from './projectConfig.ts';
import { quietLambdaLogs } from './quietLambdaLogs.ts';

/** `git-geo drill`: a whole disaster-recovery exercise on this machine, printing the RTO and RPO it measured. */
export function drillCommand(): Command {
  return new Command('drill')
    .description('disaster-recovery exercise on the embedded default: push storm, primary killed, region promoted; prints RTO and RPO')
    .option('--repositories <n>', 'repositories under the push storm', (value) => Number.parseInt(value, 10), 5)
    .option('--storm-seconds <n>', 'seconds of pushes before the primary is killed', (value) => Number.parseFloat(value), 10)
    .option('--regions <list>', 'secondary regions, comma-separated (default: cdk.json)')
    .option('--region <region>', 'the region to promote (default: the first)')
    .option('--commits <n>', 'commits of generated history per repository', (value) => Number.parseInt(value, 10), 2000)
    .option('--no-failback', 'skip failing back to the old primary')
    .option('--kill-region <region>', 'instead: take this AWS region (the primary region) offline, keep reading every secondary region, move the control plane to the standby; prints read availability, control-plane RTO and RPO in pushes')
    .option('--decision-seconds <n>', 'with --kill-region: seconds before the operator runs the failover', (value) => Number.parseFloat(value), 10)
    .option('--json', 'print the figures as JSON', false)
    .option('--verbose', 'show Lambda logs at INFO level on stderr', false)
    .action(async (options: { repositories: number; stormSeconds: number; regions?: string; region?: string; commits: number; failback: boolean; killRegion?: string; decisionSeconds: number; json: boolean; verbose: boolean }) => {
      quietLambdaLogs(options.verbose);
      if (options.killRegion !== undefined) {
        const report = await runRegionDrill({
          config: projectConfig({ secondaryRegions: splitList(options.regions), primaryUrls: ['http://127.0.0.1:1'] }),
          killRegion: options.killRegion,
          repositories: options.repositories,
          stormSeconds: options.stormSeconds,
          decisionSeconds: options.decisionSeconds,
          log: (line) => process.stderr.write(`${line}\n`),
        });
        process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatRegionDrillReport(report)}\n`);
        return;
      }
      const config = projectConfig({ secondaryRegions: splitList(options.regions), primaryUrls: ['http://127.0.0.1:1'] });
      const report = await runDrill({
        config,
        repositories: options.repositories,
        stormSeconds: options.stormSeconds,
        commits: options.commits,
        failback: options.failback,
        ...(options.region ? { region: options.region } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : `${formatDrillReport(report)}\n`);
    });
}
