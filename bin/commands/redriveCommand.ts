import { SQSClient } from '@aws-sdk/client-sqs';
import { Command } from 'commander';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { redriveDeadLetters } from '../ops/redriveDeadLetters.ts';
import { regionQueues } from '../ops/regionQueues.ts';
import { projectConfig } from './projectConfig.ts';

interface RedriveFlags {
  region: string;
  stackPrefix?: string;
  deadLetterQueueUrl?: string;
  queueUrl?: string;
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
    .option('--stack-prefix <prefix>', 'stack prefix (default: cdk.json); the queues are read from the region stack outputs')
    .option('--dead-letter-queue-url <url>', 'the dead-letter queue, instead of reading it from the stack (git-geo local prints it)')
    .option('--queue-url <url>', 'where to send the messages (default: the queue whose redrive policy names the dead-letter queue)')
    .option('--max <n>', 'move at most this many messages', (value) => Number.parseInt(value, 10))
    .option('--dry-run', 'list the dead-lettered messages and their errors, move nothing', false)
    .action(async (flags: RedriveFlags) => {
      const endpoint = process.env.AWS_ENDPOINT_URL;
      const queues = flags.deadLetterQueueUrl
        ? { deadLetterQueueUrl: flags.deadLetterQueueUrl, queueUrl: flags.queueUrl }
        : await regionQueues({ stackPrefix: flags.stackPrefix ?? projectConfig().stackPrefix, region: flags.region, endpoint });
      const sqs = new SQSClient(clientConfig(flags.region, endpoint));
      try {
        const result = await redriveDeadLetters({
          sqs,
          deadLetterQueueUrl: queues.deadLetterQueueUrl,
          ...(flags.queueUrl ?? queues.queueUrl ? { queueUrl: flags.queueUrl ?? queues.queueUrl } : {}),
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
