import type { Command } from 'commander';
import type { DeploymentFlags } from '../ops/deployment.ts';

/** Options every operator command shares: where the deployment's resources are, when not from the stacks' outputs. */
export function withDeploymentOptions(command: Command): Command {
  return command
    .option('--stack-prefix <prefix>', 'stack prefix (default: cdk.json); names are read from the stacks\' outputs')
    .option('--event-log-table <name>', 'the primary region\'s event log table (git-geo local prints it)')
    .option('--topic-arn <arn>', 'the change topic (git-geo local prints it)')
    .option('--bucket <name>', 'the region\'s mirror bucket (git-geo local prints it)')
    .option('--registry-table <name>', 'the region\'s registry table (git-geo local prints it)');
}

export function deploymentFlags(options: DeploymentFlags): DeploymentFlags {
  return {
    ...(options.stackPrefix ? { stackPrefix: options.stackPrefix } : {}),
    ...(options.eventLogTable ? { eventLogTable: options.eventLogTable } : {}),
    ...(options.topicArn ? { topicArn: options.topicArn } : {}),
    ...(options.bucket ? { bucket: options.bucket } : {}),
    ...(options.registryTable ? { registryTable: options.registryTable } : {}),
  };
}
