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

export async function main(argv: readonly string[]): Promise<void> {
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
