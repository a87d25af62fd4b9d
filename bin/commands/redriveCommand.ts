import { SQSClient } from '@aws-sdk/client-sqs';
import { Command } from 'commander';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { redriveDeadLetters } from '../ops/redriveDeadLetters.ts';
import { resolveTarget } from '../ops/target.ts';

interface RedriveFlags {
  region: string;
  max?: number;
  dryRun: boolean;
}

/**
 * `git-geo redrive --region R`: after an operator fixed what made syncs fail (credentials, a
 * primary URL, an outage longer than the retries), sends the region's dead-lettered change events
 * back to its queue. Each message keeps its repository's message group, so order holds.
 */
export function redriveCommand(): Command {
  return new Command('redrive')
    .description("move a region's dead-lettered change events back to its queue, in order per repository")
    .requiredOption('--region <region>', 'the secondary region')
    .option('--max <n>', 'move at most this many messages', (value) => Number.parseInt(value, 10))
    .option('--dry-run', 'list the dead-lettered messages and their errors, move nothing', false)
    .action(async (flags: RedriveFlags) => {
      const queues = await resolveTarget().region(flags.region);
      const sqs = new SQSClient(clientConfig(flags.region, queues.awsEndpoint));
      try {
        const result = await redriveDeadLetters({
          sqs,
          deadLetterQueueUrl: queues.deadLetterQueueUrl,
          queueUrl: queues.queueUrl,
          ...(flags.max !== undefined ? { max: flags.max } : {}),
          dryRun: flags.dryRun,
          onMessage: (message) =>
            process.stderr.write(`${flags.dryRun ? 'would redrive' : 'redrive'} ${message.groupId ?? '?'} ${message.errorCode ?? ''} ${message.errorMessage ?? ''}\n`),
        });
        process.stdout.write(`${JSON.stringify({ region: flags.region, queueUrl: result.queueUrl, moved: result.moved, listed: result.messages.length })}\n`);
      } finally {
        sqs.destroy();
      }
    });
}
