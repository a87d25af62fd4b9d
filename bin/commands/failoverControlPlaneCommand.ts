import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Command } from 'commander';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { failoverControlPlane, type ControlPlaneTarget, type FailoverRegion } from '../ops/failoverControlPlane.ts';
import { resolveTarget } from '../ops/target.ts';

interface FailoverFlags {
  toRegion: string;
  resync: boolean;
  timeoutSeconds: number;
  json: boolean;
}

function documents(region: string, endpoint: string | undefined): DynamoDBDocumentClient {
  // Few retries: an unreachable region is reported and skipped, not waited on.
  return DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientConfig(region, endpoint), maxAttempts: 2 }), { marshallOptions: { removeUndefinedValues: true } });
}

/** The new control plane and the secondary regions, from the target's stacks. */
async function resolve(flags: FailoverFlags): Promise<{ target: ControlPlaneTarget; regions: FailoverRegion[] }> {
  const deployment = resolveTarget();
  const plane = await deployment.controlPlane(flags.toRegion);
  const regions: FailoverRegion[] = [];
  for (const region of deployment.regions()) {
    try {
      regions.push({ region, registryTable: (await deployment.region(region)).registryTable, db: documents(region, deployment.awsEndpoint) });
    } catch (error) {
      process.stderr.write(`${region}: stack outputs unreadable (${(error as Error).message}); it is skipped\n`);
    }
  }
  return {
    target: {
      region: plane.region,
      webhookUrl: plane.webhookUrl,
      eventLogTable: plane.eventLogTable,
      topicArn: plane.topicArn,
      db: documents(plane.region, deployment.awsEndpoint),
      sns: new SNSClient(clientConfig(plane.region, deployment.awsEndpoint)),
    },
    regions,
  };
}

/** `git-geo failover-control-plane --to-region R`: webhooks and fan-out move to R's control plane. */
export function failoverControlPlaneCommand(): Command {
  return new Command('failover-control-plane')
    .description("move the control plane (webhooks, event log, fan-out) to another region's, when the primary region is lost (or back, to fail back)")
    .requiredOption('--to-region <region>', 'the region whose control plane takes over (standbyControlPlaneRegion, or the primary region to fail back)')
    .option('--no-resync', 'do not ask every region to re-read every repository through the new control plane')
    .option('--timeout-seconds <n>', 'how long to wait for each region to hear the new control plane', (value) => Number.parseInt(value, 10), 120)
    .option('--json', 'print the result as JSON', false)
    .action(async (flags: FailoverFlags) => {
      const { target, regions } = await resolve(flags);
      const result = await failoverControlPlane({ target, regions, resync: flags.resync, timeoutMs: flags.timeoutSeconds * 1000, log: (line) => process.stderr.write(`${line}\n`) });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(result)}\n`);
      } else {
        process.stdout.write(
          [
            `control plane: ${result.toRegion} (RTO ${result.rtoMs === undefined ? 'not reached' : `${(result.rtoMs / 1000).toFixed(1)} s`} from this command to every reachable region hearing it)`,
            ...result.regions.map((region) => `  ${region.region}: ${region.heardAfterMs !== undefined ? `heard after ${(region.heardAfterMs / 1000).toFixed(1)} s` : `NOT switched: ${region.error ?? 'no answer'}`}`),
            `repositories: ${result.repositories}, resync requested: ${result.resyncRequested}`,
            `now point every Git host's webhooks at ${result.webhookUrl}`,
          ].join('\n') + '\n',
        );
      }
      if (result.rtoMs === undefined) process.exitCode = 1;
    });
}
