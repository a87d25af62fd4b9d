import { Command } from 'commander';
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

/**
 * Each command, loaded only when it runs: `git-geo status` should not load the CDK and the
 * local runtime that `git-geo local` needs (seconds of startup). Help loads them all.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  local: async () => (await import('./commands/localCommand.ts')).localCommand(),
  demo: async () => (await import('./commands/demoCommand.ts')).demoCommand(),
  'git-server': async () => (await import('./commands/gitServerCommand.ts')).gitServerCommand(),
  redrive: async () => (await import('./commands/redriveCommand.ts')).redriveCommand(),
  bench: async () => (await import('./commands/benchCommand.ts')).benchCommand(),
  status: async () => (await import('./commands/statusCommand.ts')).statusCommand(),
  verify: async () => (await import('./commands/verifyCommand.ts')).verifyCommand(),
  backfill: async () => (await import('./commands/backfillCommand.ts')).backfillCommand(),
  pause: async () => (await import('./commands/pauseCommand.ts')).pauseCommand(),
  resume: async () => (await import('./commands/pauseCommand.ts')).resumeCommand(),
  promote: async () => (await import('./commands/promoteCommand.ts')).promoteCommand(),
  rpo: async () => (await import('./commands/rpoCommand.ts')).rpoCommand(),
  drill: async () => (await import('./commands/drillCommand.ts')).drillCommand(),
  'failover-control-plane': async () => (await import('./commands/failoverControlPlaneCommand.ts')).failoverControlPlaneCommand(),
  backup: async () => (await import('./commands/backupCommand.ts')).backupCommand(),
  restore: async () => (await import('./commands/restoreCommand.ts')).restoreCommand(),
};

export async function main(argv: readonly string[]): Promise<void> {
  refuseRemovedOptions(argv);
  const program = new Command('git-geo').description('Serverless geo-replication for Git on AWS').showHelpAfterError();
  const named = argv[2] === undefined ? undefined : COMMANDS[argv[2]];
  for (const load of named === undefined ? Object.values(COMMANDS) : [named]) program.addCommand(await load());
  await program.parseAsync([...argv]);
}
