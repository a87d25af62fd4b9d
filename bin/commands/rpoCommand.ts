import { Command } from 'commander';
import type { RpoReport } from '../ops/rpoReport.ts';
import { rpoReport } from '../ops/rpoReport.ts';
import { Deployment } from '../ops/deployment.ts';

/** The report for people: one line per repository at risk, with exactly the refs. */
export function formatRpoReport(report: RpoReport): string {
  const lines = [`RPO for ${report.region} at ${report.at}: ${report.repositories.length - report.atRisk}/${report.repositories.length} repositories hold the primary's last known state`];
  for (const entry of report.repositories.filter((candidate) => !candidate.current)) {
    lines.push(`  ${entry.repository}${entry.noMirror ? ' (no copy in this region)' : ''}`);
    for (const ref of entry.missing) lines.push(`    missing   ${ref.ref} ${ref.primary.slice(0, 12)}`);
    for (const ref of entry.different) lines.push(`    behind    ${ref.ref} region ${ref.region.slice(0, 12)}, primary ${ref.primary.slice(0, 12)}`);
  }
  return `${lines.join('\n')}\n`;
}

export function rpoCommand(): Command {
  return new Command('rpo')
    .description("per repository, whether a region holds the primary's last known state (from the event log), and which refs it lacks")
    .requiredOption('--region <region>', 'the secondary region')
    .option('--repo <path...>', 'only these repositories')
    .option('--json', 'print the report as JSON', false)
    .action(async (options: { region: string; repo?: string[]; json: boolean }) => {
      const deployment = await Deployment.open();
      const config = deployment.config;
      const { store, registry } = await deployment.region(options.region);
      const report = await rpoReport({ region: options.region, eventLog: deployment.eventLog, store, registry, refNamespaces: config.refNamespaces, ...(options.repo ? { repositories: options.repo } : {}) });
      process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : formatRpoReport(report));
      if (report.atRisk > 0) process.exitCode = 3;
    });
}
