import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { readFileSync } from 'node:fs';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import type { RegionInfo } from '../local/startLocalRuntime.ts';

/** What the region commands (pause, resume, verify, backfill, status) need of a region: the runtime's own view of it, plus where to call. */
export interface RegionResources
  extends Pick<RegionInfo, 'registryTable' | 'queueUrl' | 'deadLetterQueueUrl' | 'syncFunctionName' | 'verifyFunctionName' | 'backfillFunctionName'> {
  readonly region: string;
  /** Where to call the Lambda API (the local runtime answers it itself); undefined: AWS's own. */
  readonly lambdaEndpoint?: string;
  /** Where to call the other AWS APIs; undefined: AWS's own (or AWS_ENDPOINT_URL). */
  readonly awsEndpoint?: string;
}

export interface RegionLookup {
  readonly region: string;
  readonly stackPrefix: string;
  /** `git-geo local`'s ready line (JSON, or a file holding it): the local runtime's resources instead of a stack's outputs. */
  readonly runtime?: string;
}

interface ReadyLine {
  endpoint?: string;
  lambdaEndpoint?: string;
  awsEndpoint?: string;
  regions?: Record<string, Partial<RegionResources>>;
}

function readReadyLine(value: string): ReadyLine {
  const text = value.trim().startsWith('{') ? value : readFileSync(value, 'utf8');
  const line = text.split('\n').find((candidate) => candidate.trim().startsWith('{'));
  if (line === undefined) throw new Error('the --runtime value is not git-geo local\'s ready line (JSON)');
  return JSON.parse(line) as ReadyLine;
}

function required(value: string | undefined, what: string, where: string): string {
  if (value === undefined || value === '') throw new Error(`${where} has no ${what}`);
  return value;
}

/**
 * A region's resources: from the local runtime's ready line when given, else from the region
 * stack's CloudFormation outputs (`<prefix>-Region-<region>`).
 */
export async function regionResources(lookup: RegionLookup): Promise<RegionResources> {
  if (lookup.runtime !== undefined) {
    const ready = readReadyLine(lookup.runtime);
    const info = ready.regions?.[lookup.region];
    const where = `the local runtime's region ${lookup.region}`;
    if (info === undefined) throw new Error(`${lookup.region} is not a region of this local runtime (it has ${Object.keys(ready.regions ?? {}).join(', ')})`);
    return {
      region: lookup.region,
      registryTable: required(info.registryTable, 'registry table', where),
      queueUrl: required(info.queueUrl, 'queue', where),
      deadLetterQueueUrl: required(info.deadLetterQueueUrl, 'dead-letter queue', where),
      syncFunctionName: required(info.syncFunctionName, 'sync function', where),
      verifyFunctionName: required(info.verifyFunctionName, 'verify function', where),
      ...(info.backfillFunctionName ? { backfillFunctionName: info.backfillFunctionName } : {}),
      ...(ready.lambdaEndpoint ?? ready.endpoint ? { lambdaEndpoint: ready.lambdaEndpoint ?? ready.endpoint } : {}),
      ...(ready.awsEndpoint ? { awsEndpoint: ready.awsEndpoint } : {}),
    };
  }
  const stackName = `${lookup.stackPrefix}-Region-${lookup.region}`;
  const endpoint = process.env.AWS_ENDPOINT_URL;
  const cloudformation = new CloudFormationClient(clientConfig(lookup.region, endpoint));
  try {
    const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = new Map((Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
    const where = `stack ${stackName}`;
    const backfill = outputs.get('BackfillFunctionName');
    return {
      region: lookup.region,
      registryTable: required(outputs.get('RegistryTable'), 'RegistryTable output', where),
      queueUrl: required(outputs.get('QueueUrl'), 'QueueUrl output', where),
      deadLetterQueueUrl: required(outputs.get('DeadLetterQueueUrl'), 'DeadLetterQueueUrl output', where),
      syncFunctionName: required(outputs.get('SyncFunctionName'), 'SyncFunctionName output', where),
      verifyFunctionName: required(outputs.get('VerifyFunctionName'), 'VerifyFunctionName output', where),
      ...(backfill ? { backfillFunctionName: backfill } : {}),
      ...(endpoint ? { awsEndpoint: endpoint } : {}),
    };
  } finally {
    cloudformation.destroy();
  }
}
