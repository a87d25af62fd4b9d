import { Command } from 'commander';
import { setRegionPaused } from '../ops/setRegionPaused.ts';
import { resourcesFor, withRegionOptions, type RegionFlags } from './regionCommandOptions.ts';

function command(name: 'pause' | 'resume'): Command {
  const paused = name === 'pause';
  return withRegionOptions(
    new Command(name).description(
      paused
        ? "pause a region's replication: its sync stops taking change events, which wait on its queue (nothing is lost)"
        : "resume a paused region: the events that waited drain, in order per repository",
    ),
    true,
  ).action(async (flags: RegionFlags & { region: string }) => {
    const result = await setRegionPaused(await resourcesFor(flags, flags.region), paused);
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
