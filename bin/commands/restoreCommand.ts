import { Command, Option } from 'commander';
import { tmpdir } from 'node:os';
import { Deployment } from '../ops/deployment.ts';
import { HOST_KINDS, hostApi, type HostKind } from '../ops/HostApi.ts';
import { restoreSnapshot, type RestoreTarget } from '../ops/restoreSnapshot.ts';
import { readManifest } from '../ops/snapshotStore.ts';

interface RestoreFlags {
  region: string;
  snapshot: string;
  repo?: string[];
  inPlace: boolean;
  push?: string;
  host: HostKind;
  credentialsSecret?: string;
  bundle?: string;
  upload: boolean;
  scratch: string;
}

/** `git-geo restore --snapshot ID [--repo X]`: into the mirror, to a Git host by push, or as bundles. */
export function restoreCommand(): Command {
  return new Command('restore')
    .description('bring repositories back from a snapshot: into the mirror in place, to a Git host by push, or as git bundles')
    .requiredOption('--region <region>', 'the secondary region whose snapshot to use')
    .requiredOption('--snapshot <id>', "the snapshot id ('latest' for the newest; git-geo backup list shows them)")
    .option('--repo <path...>', 'only these repositories')
    .option('--in-place', "write the snapshot's refs back into the region's mirror", false)
    .option('--push <url>', 'push to this Git host (base URL), forced and pruned to the snapshot\'s refs')
    .addOption(new Option('--host <kind>', 'with --push: how to create repositories and set default branches').choices(HOST_KINDS).default('none'))
    .option('--credentials-secret <name>', 'with --push: Secrets Manager secret with push credentials (default: promotionCredentialsSecretName)')
    .option('--bundle <dir>', 'write <dir>/<path>.bundle files that git clone reads')
    .option('--upload', "also upload the bundles to the region's bucket under .git-geo/bundles/<snapshot>/", false)
    .option('--scratch <dir>', 'local scratch directory', tmpdir())
    .action(async (flags: RestoreFlags) => {
      const chosen = [flags.inPlace, flags.push !== undefined, flags.bundle !== undefined || flags.upload].filter(Boolean).length;
      if (chosen !== 1) throw new Error('choose one of --in-place, --push <url>, --bundle <dir> (with or without --upload)');
      const deployment = await Deployment.open();
      const config = deployment.config;
      const { store } = await deployment.region(flags.region);
      const manifest = await readManifest(store, flags.snapshot);
      let target: RestoreTarget;
      if (flags.inPlace) target = { kind: 'mirror' };
      else if (flags.push !== undefined) {
        const secret = flags.credentialsSecret ?? config.promotionCredentialsSecretName;
        const credentials = secret === undefined ? undefined : await deployment.credentials(secret);
        target = { kind: 'push', url: flags.push, host: hostApi(flags.host, flags.push, credentials), ...(credentials ? { credentials } : {}) };
      } else target = { kind: 'bundle', ...(flags.bundle ? { dir: flags.bundle } : {}), upload: flags.upload };
      const results = await restoreSnapshot({
        store,
        manifest,
        target,
        scratch: flags.scratch,
        refNamespaces: config.refNamespaces,
        ...(flags.repo ? { repositories: flags.repo } : {}),
        onRepository: (result) => process.stderr.write(`${result.error ? `FAILED ${result.repository}: ${result.error}` : `restored ${result.repository} (${result.refs} refs)${result.bundle ? ` -> ${result.bundle}` : ''}`}\n`),
      });
      process.stdout.write(`${JSON.stringify({ snapshotId: manifest.id, restored: results.filter((result) => !result.error).length, failed: results.filter((result) => result.error).length })}\n`);
      if (results.some((result) => result.error)) process.exitCode = 1;
    });
}
