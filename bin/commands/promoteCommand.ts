import cliProgress from 'cli-progress';
import { ActivePrimary } from '../../lambdas/shared/primary/ActivePrimary.ts';
import { Command, Option } from 'commander';
import { tmpdir } from 'node:os';
import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { basicAuthorization } from '../../lambdas/shared/secrets/SecretReader.ts';
import { Deployment } from '../ops/deployment.ts';
import { HOST_KINDS, hostApi, type HostKind } from '../ops/HostApi.ts';
import { promoteRegion } from '../ops/promoteRegion.ts';
import { rpoReport } from '../ops/rpoReport.ts';
import { waitUntilRegionsMatch } from '../ops/waitUntilRegionsMatch.ts';
import { formatRpoReport } from './rpoCommand.ts';

interface PromoteFlags {
  region: string;
  to: string;
  planned: boolean;
  credentialsSecret?: string;
  host: HostKind;
  concurrency: number;
  repo?: string[];
  waitMinutes: number;
  scratch: string;
}

/**
 * `git-geo promote --region R --to URL [--planned]`: makes another Git host the primary from
 * region R's mirrors, then switches the pipeline to it without a redeploy.
 */
export function promoteCommand(): Command {
  return new Command('promote')
    .description("make a new Git host the primary from a region's mirrors, and switch replication to it (no redeploy)")
    .requiredOption('--region <region>', 'the secondary region whose mirrors are pushed')
    .requiredOption('--to <url>', 'base URL of the new primary')
    .option('--planned', 'first wait until every region is verified equal to the current primary (RPO zero)', false)
    .option('--credentials-secret <name>', 'Secrets Manager secret (primary region) with push credentials for the new host: promotionCredentialsSecretName (the default) or primaryCredentialsSecretName, the two secrets the functions may read')
    .addOption(new Option('--host <kind>', 'how to set default branches on the new host').choices(HOST_KINDS).default('none'))
    .option('--concurrency <n>', 'repositories pushed at once', (value) => Number.parseInt(value, 10), 4)
    .option('--repo <path...>', 'only these repositories (the switch still applies to all)')
    .option('--wait-minutes <n>', 'with --planned: how long to wait for every region', (value) => Number.parseInt(value, 10), 30)
    .option('--scratch <dir>', 'local scratch directory', tmpdir())
    .action(async (flags: PromoteFlags) => {
      const deployment = await Deployment.open();
      const config = deployment.config;
      const { store, registry } = await deployment.region(flags.region);
      const eventLog = deployment.eventLog;
      const overrides = await deployment.promotionOverrides();
      const current = await overrides.current();
      const previousUrl = current?.url ?? config.primaryUrls[0]!;
      const secretName = flags.credentialsSecret ?? config.promotionCredentialsSecretName;
      // The promoted host is read with this secret by sync and verify, whose roles may read only the configured ones.
      const readable = ActivePrimary.readableSecrets(config);
      if (flags.credentialsSecret !== undefined && !readable.includes(flags.credentialsSecret)) {
        throw new Error(
          `--credentials-secret ${flags.credentialsSecret} is not a secret git-geo's functions may read; use ${readable.join(' or ') || 'promotionCredentialsSecretName (set it in the git-geo configuration and deploy)'}`,
        );
      }
      const credentials = secretName === undefined ? undefined : await deployment.credentials(secretName);

      if (flags.planned) {
        const readSecret = current?.credentialsSecretName ?? config.primaryCredentialsSecretName;
        const authorization = readSecret === undefined ? undefined : basicAuthorization(await deployment.credentials(readSecret));
        const primary = new PrimaryRemote({ baseUrl: previousUrl, authorization });
        const regions = await Promise.all(config.secondaryRegions.map(async (region) => ({ region, store: (await deployment.region(region)).store })));
        process.stderr.write(`waiting until every region equals ${previousUrl} ...\n`);
        const left = await waitUntilRegionsMatch({
          eventLog,
          primary,
          regions,
          refNamespaces: config.refNamespaces,
          timeoutMs: flags.waitMinutes * 60_000,
          onProgress: (mismatches) => process.stderr.write(`  ${mismatches.length} region copies still differ\n`),
        });
        if (left.length > 0) throw new Error(`not every region caught up within ${flags.waitMinutes} min: ${left.map((entry) => `${entry.region}:${entry.repository}`).join(', ')}; nothing was promoted`);
      }

      const before = await rpoReport({ region: flags.region, eventLog, store, registry, refNamespaces: config.refNamespaces });
      process.stderr.write(`before promotion:\n${formatRpoReport(before)}`);
      const bar = new cliProgress.SingleBar({ format: 'pushing {bar} {value}/{total} {repository}', stream: process.stderr }, cliProgress.Presets.shades_classic);
      bar.start(0, 0, { repository: '' });
      const result = await promoteRegion({
        region: flags.region,
        to: flags.to,
        previousUrl,
        store,
        registry,
        eventLog,
        publisher: deployment.publisher,
        overrides,
        refNamespaces: config.refNamespaces,
        host: hostApi(flags.host, flags.to, credentials),
        ...(credentials ? { credentials } : {}),
        ...(secretName ? { credentialsSecretName: secretName } : {}),
        operator: await deployment.operator(),
        planned: flags.planned,
        scratch: flags.scratch,
        concurrency: flags.concurrency,
        ...(flags.repo ? { repositories: flags.repo } : {}),
        onProgress: (done, total, repository) => {
          bar.setTotal(total);
          bar.update(done, { repository });
        },
      });
      bar.stop();
      for (const failed of result.failed) process.stderr.write(`FAILED ${failed.repository}: ${failed.error ?? 'refs differ after the push'}\n`);
      for (const entry of result.repositories.filter((candidate) => candidate.skipped)) process.stderr.write(`skipped ${entry.repository}: ${entry.skipped}\n`);
      for (const entry of result.repositories.filter((candidate) => candidate.defaultBranchToSet)) {
        process.stderr.write(`set the default branch of ${entry.repository} to ${entry.defaultBranchToSet} on the new host (no --host API)\n`);
      }
      if (result.override === undefined) {
        process.stdout.write(`${JSON.stringify({ promoted: false, failed: result.failed.length })}\n`);
        process.exitCode = 1;
        return;
      }
      const after = await rpoReport({ region: flags.region, eventLog, store, registry, refNamespaces: config.refNamespaces });
      process.stderr.write(`after promotion (the event log now describes ${flags.to}):\n${formatRpoReport(after)}`);
      process.stdout.write(
        `${JSON.stringify({ promoted: true, primary: result.override.url, previous: previousUrl, repositories: result.repositories.length, lostBeforePromotion: before.refsAtRisk, promotionId: result.promotionId })}\n`,
      );
    });
}
