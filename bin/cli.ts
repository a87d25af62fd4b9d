import { Command } from 'commander';
import { benchCommand } from './commands/benchCommand.ts';
import { demoCommand } from './commands/demoCommand.ts';
import { gitServerCommand } from './commands/gitServerCommand.ts';
import { localCommand } from './commands/localCommand.ts';
import { redriveCommand } from './commands/redriveCommand.ts';

export async function main(argv: readonly string[]): Promise<void> {
  const program = new Command('git-geo')
    .description('Serverless geo-replication for Git on AWS')
    .showHelpAfterError()
    .addCommand(localCommand())
    .addCommand(demoCommand())
    .addCommand(gitServerCommand())
    .addCommand(redriveCommand())
    .addCommand(benchCommand());
  await program.parseAsync([...argv]);
}
