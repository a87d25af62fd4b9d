import { Command } from 'commander';
import { setRegionPaused } from '../ops/setRegionPaused.ts';
import { resolveTarget } from '../ops/target.ts';
import { withRegionOption } from './regionCommandOptions.ts';

function command(name: 'pause' | 'resume'): Command {
  const paused = name === 'pause';
  return withRegionOption(
    new Command(name).description(
      paused
        ? "pause a region's replication: its sync stops taking change events, which wait on its queue (nothing is lost)"
        : "resume a paused region: the events that waited drain, in order per repository",
    ),
    true,
  ).action(async (flags: { region: string }) => {
    const result = await setRegionPaused(await resolveTarget().region(flags.region), paused);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  });
}

/** `git-geo pause --region R`. */
export function pauseCommand(): Command {
  return command('pause');
}

/** `git-geo resume --region R`. */
export function resumeCommand(): Command {
  return command('resume');
}
