import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';

export interface RegionQueues {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/** A region stack's change queue and dead-letter queue, from its CloudFormation outputs. */
export async function regionQueues(options: { stackPrefix: string; region: string; endpoint?: string }): Promise<RegionQueues> {
  const stackName = `${options.stackPrefix}-Region-${options.region}`;
  const cloudformation = new CloudFormationClient(clientConfig(options.region, options.endpoint));
  try {
    const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = new Map((Stacks[0]?.Outputs ?? []).map((output) => [output.OutputKey, output.OutputValue]));
    const queueUrl = outputs.get('QueueUrl');
    const deadLetterQueueUrl = outputs.get('DeadLetterQueueUrl');
    if (!queueUrl || !deadLetterQueueUrl) throw new Error(`stack ${stackName} has no QueueUrl / DeadLetterQueueUrl outputs`);
    return { queueUrl, deadLetterQueueUrl };
  } finally {
    cloudformation.destroy();
  }
}
