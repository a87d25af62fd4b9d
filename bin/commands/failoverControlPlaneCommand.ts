import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { standbyControlPlaneStackName } from '../../cdk/buildApp.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { stackOutputs } from '../ops/deployment.ts';
import { failoverControlPlane, type ControlPlaneTarget, type FailoverRegion } from '../ops/failoverControlPlane.ts';
import { projectConfig } from './projectConfig.ts';

interface FailoverFlags {
  toRegion: string;
  stackPrefix?: string;
  runtime?: string;
  resync: boolean;
  timeoutSeconds: number;
  json: boolean;
}

interface ReadyLine {
  awsEndpoint?: string;
  controlPlanes?: Record<string, { webhookUrl: string; eventLogTable: string; topicArn: string }>;
  regions?: Record<string, { registryTable: string }>;
}

function documents(region: string, endpoint: string | undefined): DynamoDBDocumentClient {
  // Few retries: an unreachable region is reported and skipped, not waited on.
  return DynamoDBDocumentClient.from(new DynamoDBClient({ ...clientConfig(region, endpoint), maxAttempts: 2 }), { marshallOptions: { removeUndefinedValues: true } });
}

function required(outputs: Map<string, string>, name: string, stack: string): string {
  const value = outputs.get(name);
  if (value === undefined) throw new Error(`stack ${stack} has no ${name} output`);
  return value;
}

/** The new control plane and the secondary regions: from git-geo local's ready line, or the stacks' outputs. */
async function resolve(flags: FailoverFlags): Promise<{ target: ControlPlaneTarget; regions: FailoverRegion[] }> {
  const to = flags.toRegion;
  if (flags.runtime !== undefined) {
    const text = flags.runtime.trim().startsWith('{') ? flags.runtime : readFileSync(flags.runtime, 'utf8');
    const ready = JSON.parse(text.split('\n').find((line) => line.trim().startsWith('{')) ?? '{}') as ReadyLine;
    const plane = ready.controlPlanes?.[to];
    if (plane === undefined) throw new Error(`the runtime has no control plane in ${to} (it has ${Object.keys(ready.controlPlanes ?? {}).join(', ')}); set standbyControlPlaneRegion`);
    return {
      target: { region: to, ...plane, db: documents(to, ready.awsEndpoint), sns: new SNSClient(clientConfig(to, ready.awsEndpoint)) },
      regions: Object.entries(ready.regions ?? {}).map(([region, info]) => ({ region, registryTable: info.registryTable, db: documents(region, ready.awsEndpoint) })),
    };
  }
  const config = projectConfig(flags.stackPrefix ? { stackPrefix: flags.stackPrefix } : {});
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (to !== config.primaryRegion && to !== config.standbyControlPlaneRegion) {
    throw new Error(`${to} holds no control plane: the primary is in ${config.primaryRegion}, the standby in ${config.standbyControlPlaneRegion ?? '(none: set standbyControlPlaneRegion and deploy)'}`);
  }
  const stack = to === config.primaryRegion ? `${config.stackPrefix}-Primary` : standbyControlPlaneStackName(config, to);
  const outputs = await stackOutputs(stack, to, endpoint);
  const regions: FailoverRegion[] = [];
  for (const region of config.secondaryRegions) {
    const name = `${config.stackPrefix}-Region-${region}`;
    try {
      regions.push({ region, registryTable: required(await stackOutputs(name, region, endpoint), 'RegistryTable', name), db: documents(region, endpoint) });
    } catch (error) {
      process.stderr.write(`${region}: stack outputs unreadable (${(error as Error).message}); it is skipped\n`);
    }
  }
  return {
    target: {
      region: to,
      webhookUrl: required(outputs, 'WebhookUrl', stack),
      eventLogTable: required(outputs, 'EventLogTable', stack),
      topicArn: required(outputs, 'ChangeTopicArn', stack),
      db: documents(to, endpoint),
      sns: new SNSClient(clientConfig(to, endpoint)),
    },
    regions,
  };
}

/** `git-geo failover-control-plane --to-region R`: webhooks and fan-out move to R's control plane. */
export function failoverControlPlaneCommand(): Command {
  return new Command('failover-control-plane')
    .description("move the control plane (webhooks, event log, fan-out) to another region's, when the primary region is lost (or back, to fail back)")
    .requiredOption('--to-region <region>', 'the region whose control plane takes over (standbyControlPlaneRegion, or the primary region to fail back)')
    .option('--stack-prefix <prefix>', 'stack prefix (default: cdk.json)')
    .option('--runtime <ready-line>', "git-geo local's ready line (JSON, or a file holding it)")
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
