import { Command } from 'commander';
import { tmpdir } from 'node:os';
import { collectGarbage } from '../../lambdas/backup/collectGarbage.ts';
import { takeSnapshot } from '../../lambdas/backup/takeSnapshot.ts';
import { Deployment } from '../ops/deployment.ts';
import { listSnapshots, readManifest } from '../ops/snapshotStore.ts';
import { verifySnapshot } from '../ops/verifySnapshot.ts';

interface RegionFlags {
  region?: string;
}

/**
 * `git-geo backup [--region R]`: a point-in-time snapshot of every mirror now (the schedule takes
 * them too), and its subcommands `list`, `verify` and `gc`.
 */
export function backupCommand(): Command {
  const command = new Command('backup').description(
    'point-in-time snapshots of every mirror in a region (refs and pack names; no data is copied): take one (the default), list, verify, gc',
  );
  command.addCommand(
    new Command('take')
      .description('take a point-in-time snapshot of every mirror now (the schedule takes them too)')
      .option('--region <region>', 'one secondary region (default: all)')
      .action(async (flags: RegionFlags) => {
        const deployment = await Deployment.open();
        for (const region of deployment.target.regions(flags.region)) {
          const { store, registry } = await deployment.region(region);
          const { manifest } = await takeSnapshot({ store, registry, region, now: () => new Date() });
          process.stdout.write(`${JSON.stringify({ region, snapshotId: manifest.id, repositories: manifest.repositories.length })}\n`);
        }
      }),
    // `git-geo backup --region R` takes a snapshot.
    { isDefault: true },
  );

  command.addCommand(
    new Command('list')
      .description("a region's snapshots, oldest first")
      .requiredOption('--region <region>', 'the secondary region')
      .action(async (flags: { region: string }) => {
        const deployment = await Deployment.open();
        const { store } = await deployment.region(flags.region);
        for (const id of await listSnapshots(store)) process.stdout.write(`${id}\n`);
      }),
  );

  command.addCommand(
    new Command('verify')
      .description('restore a snapshot to scratch space and check it deeply: pack and index checksums, git fsck --full, refs equal to the manifest')
      .requiredOption('--region <region>', 'the secondary region')
      .option('--snapshot <id>', 'the snapshot (default: the newest)', 'latest')
      .option('--repo <path...>', 'only these repositories')
      .option('--scratch <dir>', 'local scratch directory', tmpdir())
      .action(async (flags: RegionFlags & { region: string; snapshot: string; repo?: string[]; scratch: string }) => {
        const deployment = await Deployment.open();
        const { store } = await deployment.region(flags.region);
        const manifest = await readManifest(store, flags.snapshot);
        const result = await verifySnapshot({
          store,
          manifest,
          scratch: flags.scratch,
          ...(flags.repo ? { repositories: flags.repo } : {}),
          onRepository: (entry) => process.stderr.write(`${entry.ok ? 'ok  ' : 'BAD '} ${entry.repository} (${entry.packs} packs)${entry.problems.map((problem) => `\n     ${problem}`).join('')}\n`),
        });
        process.stdout.write(`${JSON.stringify({ snapshotId: result.snapshotId, ok: result.ok, repositories: result.repositories.length, bad: result.repositories.filter((entry) => !entry.ok).length })}\n`);
        if (!result.ok) process.exitCode = 1;
      }),
  );

  command.addCommand(
    new Command('gc')
      .description('enforce the retention policy and delete packs no retained snapshot or mirror needs (the schedule does this too)')
      .option('--region <region>', 'one secondary region (default: all)')
      .option('--dry-run', 'list what would be deleted', false)
      .action(async (flags: RegionFlags & { dryRun: boolean }) => {
        const deployment = await Deployment.open();
        const config = deployment.config;
        for (const region of deployment.target.regions(flags.region)) {
          const { store } = await deployment.region(region);
          const result = await collectGarbage({ store, retention: config.backupRetention, now: () => new Date(), dryRun: flags.dryRun });
          process.stdout.write(`${JSON.stringify({ region, dryRun: flags.dryRun, ...result })}\n`);
        }
      }),
  );
  return command;
}
