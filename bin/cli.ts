import { Command } from 'commander';
import { backupCommand } from './commands/backupCommand.ts';
import { benchCommand } from './commands/benchCommand.ts';
import { demoCommand } from './commands/demoCommand.ts';
import { drillCommand } from './commands/drillCommand.ts';
import { failoverControlPlaneCommand } from './commands/failoverControlPlaneCommand.ts';
import { gitServerCommand } from './commands/gitServerCommand.ts';
import { localCommand } from './commands/localCommand.ts';
import { backfillCommand } from './commands/backfillCommand.ts';
import { pauseCommand, resumeCommand } from './commands/pauseCommand.ts';
import { promoteCommand } from './commands/promoteCommand.ts';
import { redriveCommand } from './commands/redriveCommand.ts';
import { restoreCommand } from './commands/restoreCommand.ts';
import { rpoCommand } from './commands/rpoCommand.ts';
import { statusCommand } from './commands/statusCommand.ts';
import { verifyCommand } from './commands/verifyCommand.ts';
import { RemovedOptionError } from './ops/errors/RemovedOptionError.ts';

/**
 * Options the operator commands once took to find a deployment's resources. The target replaced
 * them all (bin/ops/target.ts); someone passing one learns what to do instead.
 */
const REMOVED_TARGET_OPTIONS = ['--runtime', '--stack-prefix', '--event-log-table', '--topic-arn', '--bucket', '--registry-table', '--dead-letter-queue-url', '--queue-url'];

function refuseRemovedOptions(argv: readonly string[]): void {
  const passed = argv.slice(2).find((arg) => REMOVED_TARGET_OPTIONS.includes(arg.split('=')[0]!));
  if (passed === undefined) return;
  throw new RemovedOptionError(
    `${passed.split('=')[0]} is no longer an option: every operator command finds its deployment by itself. ` +
      'A running `git-geo local` is found through the descriptor it writes (.git-geo/local.json, or the file GIT_GEO_TARGET names); ' +
      'GIT_GEO_TARGET=aws (or aws:<stackPrefix>) reads the deployed stacks\' outputs. See "Choosing the deployment" in the README.',
    { data: { option: passed } },
  );
}

export async function main(argv: readonly string[]): Promise<void> {
  refuseRemovedOptions(argv);
  const program = new Command('git-geo')
    .description('Serverless geo-replication for Git on AWS')
    .showHelpAfterError()
    .addCommand(localCommand())
    .addCommand(demoCommand())
    .addCommand(gitServerCommand())
    .addCommand(redriveCommand())
    .addCommand(benchCommand())
    .addCommand(statusCommand())
    .addCommand(verifyCommand())
    .addCommand(backfillCommand())
    .addCommand(pauseCommand())
    .addCommand(resumeCommand())
    .addCommand(promoteCommand())
    .addCommand(rpoCommand())
    .addCommand(drillCommand())
    .addCommand(failoverControlPlaneCommand())
    .addCommand(backupCommand())
    .addCommand(restoreCommand());
  await program.parseAsync([...argv]);
}
