import { Command, Option } from 'commander';
import { claimDescriptorFile, localDescriptor, removeLocalDescriptor, writeLocalDescriptor } from '../local/localDescriptor.ts';
import { startLocalRuntime } from '../local/startLocalRuntime.ts';
import { localDescriptorFile } from '../ops/target.ts';
import { projectConfig, splitList } from './projectConfig.ts';
import { quietLambdaLogs } from './quietLambdaLogs.ts';

function parseCredentials(value: string | undefined): { username: string; password: string } | undefined {
  if (value === undefined) return undefined;
  const colon = value.indexOf(':');
  if (colon <= 0) throw new Error('--primary-credentials must be user:password');
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

export function localCommand(): Command {
  return new Command('local')
    .description('run git-geo on this machine: the CDK app provisioned on an AWS endpoint (moto unless AWS_ENDPOINT_URL is set), every Lambda in-process')
    .option('--regions <list>', 'secondary regions, comma-separated (default: cdk.json)')
    .option('--primary-region <region>', 'the primary region (default: cdk.json)')
    .option('--primary-url <urls>', "the primary Git host's base URL(s), comma-separated")
    .addOption(new Option('--webhook-secret <secret>', 'the shared webhook secret').env('GIT_GEO_WEBHOOK_SECRET'))
    .addOption(new Option('--primary-credentials <user:password>', 'read credentials for the primary').env('GIT_GEO_PRIMARY_CREDENTIALS'))
    .option('--port <port>', 'loopback port for the webhook and regional endpoints', (value) => Number.parseInt(value, 10), 0)
    .option('--verbose', 'show Lambda logs at INFO level on stderr', false)
    .action(async (options: { regions?: string; primaryRegion?: string; primaryUrl?: string; webhookSecret?: string; primaryCredentials?: string; port: number; verbose: boolean }) => {
      quietLambdaLogs(options.verbose);
      // Where the operator commands find this runtime (GIT_GEO_TARGET, else .git-geo/local.json).
      const descriptorFile = localDescriptorFile();
      claimDescriptorFile(descriptorFile);
      const primaryCredentials = parseCredentials(options.primaryCredentials);
      const base = projectConfig({
        secondaryRegions: splitList(options.regions),
        primaryRegion: options.primaryRegion,
        primaryUrls: splitList(options.primaryUrl),
      });
      // Without credentials the secret would not exist, and sync would refuse to start.
      const config = { ...base, primaryCredentialsSecretName: primaryCredentials ? (base.primaryCredentialsSecretName ?? 'git-geo/primary-read-credentials') : undefined };
      const runtime = await startLocalRuntime({
        config,
        webhookSecret: options.webhookSecret,
        ...(primaryCredentials ? { primaryCredentials } : {}),
        port: options.port,
        onError: (error) => process.stderr.write(`[git-geo local] ${error instanceof Error ? error.message : String(error)}\n`),
      });
      await writeLocalDescriptor(descriptorFile, localDescriptor(runtime));
      process.stdout.write(`${JSON.stringify({ ...runtime.readyLine(), target: descriptorFile })}\n`);
      process.stderr.write(`git-geo local: ready; the operator commands (git-geo status, pause, promote, ...) act on it through ${descriptorFile}\n`);
      await new Promise<void>((resolve) => {
        const shutdown = (): void => {
          process.stderr.write('git-geo local: stopping\n');
          resolve();
        };
        process.once('SIGINT', shutdown);
        process.once('SIGTERM', shutdown);
      });
      await removeLocalDescriptor(descriptorFile);
      await runtime.stop();
    });
}
