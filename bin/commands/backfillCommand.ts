import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { MultiBar, Presets } from 'cli-progress';
import { Command } from 'commander';
import type { BackfillRunResult } from '../../lambdas/backfill/createBackfillHandler.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { RegionControl } from '../../lambdas/shared/registry/RegionControl.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import { invokeRegionFunction } from '../ops/invokeRegionFunction.ts';
import { resolveTarget } from '../ops/target.ts';
import { withRegionOption } from './regionCommandOptions.ts';

interface BackfillFlags {
  region: string;
  restart: boolean;
  wait: boolean;
  timeout: number;
}

const SETTLED = new Set(['synced', 'verified', 'failed', 'verification_failed', 'deleted']);

/**
 * `git-geo backfill --region R`: runs the region's backfill (its own function, paced by its token
 * bucket) until the listing is complete, then waits until every repository it requested has
 * settled (synced, or failed and reported). Two progress bars on stderr: listing, then syncing;
 * each ends at its real total, never stuck below 100 %. Resumable: interrupted, it carries on
 * from the saved cursor next time.
 */
export function backfillCommand(): Command {
  return withRegionOption(new Command('backfill').description("enqueue every primary repository a region should hold and doesn't, at a bounded rate, and show progress"), true)
    .option('--restart', 'list the primary again from the start, even if a backfill completed', false)
    .option('--no-wait', 'return once everything is requested, without waiting for the syncs')
    .option('--timeout <seconds>', 'give up waiting for the syncs after this long', (value) => Number.parseInt(value, 10), 3600)
    .action(async (flags: BackfillFlags) => {
      const resources = await resolveTarget().region(flags.region);
      if (resources.backfillFunctionName === undefined) throw new Error(`${flags.region} has no backfill function: set "backfill" in the git-geo configuration (cdk.json)`);
      const db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(resources.region, resources.awsEndpoint)));
      const control = new RegionControl(db, resources.registryTable);
      const registry = new Registry(db, resources.registryTable);
      const bars = new MultiBar({ format: '{phase} |{bar}| {value}/{total} {detail}', hideCursor: true, clearOnComplete: false, stream: process.stderr }, Presets.shades_classic);
      const listing = bars.create(1, 0, { phase: 'listing', detail: '' });
      try {
        let restart = flags.restart;
        let result: BackfillRunResult | undefined;
        while (result?.backfill?.state !== 'complete') {
          const run = invokeRegionFunction<BackfillRunResult>(resources, resources.backfillFunctionName, { restart });
          restart = false;
          let done = false;
          void run.finally(() => (done = true)).catch(() => undefined);
          while (!done) {
            const progress = (await control.get()).backfill;
            if (progress) {
              listing.setTotal(Math.max(progress.total ?? 0, progress.listed + (progress.state === 'complete' ? 0 : 1), 1));
              listing.update(progress.listed, { detail: `${progress.requested} requested, ${progress.excluded} excluded` });
            }
            await new Promise((resolve) => setTimeout(resolve, 300));
          }
          result = await run;
          if (result.skipped === 'paused') throw new Error(`${flags.region} is paused: git-geo resume --region ${flags.region} first`);
          // The region's own schedule is backfilling: follow its progress, and ask again shortly.
          if (result.busy) await new Promise((resolve) => setTimeout(resolve, 2000));
        }
        const final = result.backfill;
        listing.setTotal(Math.max(final.listed, 1));
        listing.update(Math.max(final.listed, 1), { detail: `${final.requested} requested, ${final.excluded} excluded` });
        let settled = 0;
        let total = 0;
        let failed = 0;
        if (flags.wait) {
          const syncing = bars.create(1, 0, { phase: 'syncing', detail: '' });
          const deadline = Date.now() + flags.timeout * 1000;
          for (;;) {
            settled = 0;
            total = 0;
            failed = 0;
            for await (const state of registry.list()) {
              total++;
              if (SETTLED.has(state.status)) settled++;
              if (state.status === 'failed' || state.status === 'verification_failed') failed++;
            }
            syncing.setTotal(Math.max(total, 1));
            syncing.update(total === 0 ? 1 : settled, { detail: failed > 0 ? `${failed} failed (git-geo status)` : '' });
            if (settled === total || Date.now() > deadline) break;
            await new Promise((resolve) => setTimeout(resolve, 1000));
          }
        }
        bars.stop();
        process.stdout.write(`${JSON.stringify({ region: flags.region, backfill: final, ...(flags.wait ? { repositories: total, settled, failed } : {}) })}\n`);
        if (flags.wait && settled < total) process.exitCode = 1;
      } finally {
        bars.stop();
        db.destroy();
      }
    });
}
