import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CloudFormationClient, CreateStackCommand, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { resolveTarget, TARGET_ENV } from '../../bin/ops/target.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { eventually } from '../helpers/eventually.ts';
import { runCliJson } from '../helpers/runCli.ts';

/**
 * `git-geo redrive --region R` against a deployed region stack (GIT_GEO_TARGET=aws:<prefix>):
 * the queues come from the stack's outputs (a CloudFormation stack on the emulator, shaped like
 * RegionStack's), and every dead-lettered message goes back to the queue in order, with its
 * message group.
 */
describe('git-geo redrive', () => {
  const region = 'eu-west-1';
  const prefix = `Redrive${randomBytes(3).toString('hex')}`;
  const aws = clientConfig(region, process.env.AWS_ENDPOINT_URL);
  const cloudformation = new CloudFormationClient(aws);
  const sqs = new SQSClient(aws);

  beforeAll(async () => {
    const template = {
      Resources: {
        // moto's CloudFormation wants FIFO queue names spelled out; CloudFormation itself derives them.
        DeadLetters: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true, QueueName: `${prefix}-dead-letters.fifo` } },
        Changes: {
          Type: 'AWS::SQS::Queue',
          Properties: { FifoQueue: true, QueueName: `${prefix}-changes.fifo`, RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['DeadLetters', 'Arn'] }, maxReceiveCount: 3 } },
        },
      },
      Outputs: {
        QueueUrl: { Value: { Ref: 'Changes' } },
        DeadLetterQueueUrl: { Value: { Ref: 'DeadLetters' } },
        // What the other region commands read; redrive needs only the queues.
        ...Object.fromEntries(['MirrorBucket', 'RegistryTable', 'SyncFunctionName', 'VerifyFunctionName'].map((name) => [name, { Value: `${prefix}-${name}` }])),
      },
    };
    await cloudformation.send(new CreateStackCommand({ StackName: `${prefix}-Region-${region}`, TemplateBody: JSON.stringify(template) }));
    await eventually(async () => {
      const { Stacks = [] } = await cloudformation.send(new DescribeStacksCommand({ StackName: `${prefix}-Region-${region}` }));
      return Stacks[0]?.StackStatus === 'CREATE_COMPLETE' ? true : undefined;
    });
  });
  afterAll(() => {
    cloudformation.destroy();
    sqs.destroy();
  });

  function run(...args: string[]): Promise<Record<string, unknown>> {
    process.env[TARGET_ENV] = `aws:${prefix}`;
    return runCliJson('redrive', '--region', region, ...args);
  }

  it('finds the queues from the stack outputs and moves every message back, in order within its group', async () => {
    process.env[TARGET_ENV] = `aws:${prefix}`;
    const queues = await resolveTarget().region(region);
    for (const [group, bodies] of [['a/one', ['1', '2', '3']], ['b/two', ['x']]] as const) {
      for (const body of bodies) {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: queues.deadLetterQueueUrl,
            MessageBody: body,
            MessageGroupId: group,
            MessageDeduplicationId: `${group.replace('/', '-')}-${body}`,
            MessageAttributes: { errorCode: { DataType: 'String', StringValue: 'ERR_ACCESS_DENIED' }, repository: { DataType: 'String', StringValue: group } },
          }),
        );
      }
    }
    // One message: moto loses a FIFO group's order when several of its messages become visible again at once.
    expect(await run('--dry-run', '--max', '1')).toMatchObject({ moved: 0, listed: 1 });
    expect(await run()).toMatchObject({ moved: 4, queueUrl: queues.queueUrl });

    const received: { group?: string; body?: string; attributes: string[] }[] = [];
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['MessageGroupId'], MessageAttributeNames: ['All'] }),
      );
      if (Messages.length === 0) break;
      received.push(...Messages.map((message) => ({ group: message.Attributes?.MessageGroupId, body: message.Body, attributes: Object.keys(message.MessageAttributes ?? {}) })));
    }
    expect(received.filter((message) => message.group === 'a/one').map((message) => message.body)).toEqual(['1', '2', '3']);
    expect(received.filter((message) => message.group === 'b/two').map((message) => message.body)).toEqual(['x']);
    // The original attributes go back; the error the sync added does not.
    for (const message of received) expect(message.attributes).toEqual(['repository']);
    expect(await run()).toMatchObject({ moved: 0 });
  });

  it('names what is missing: a region the deployment lacks, a stack not deployed, an option that was removed', async () => {
    process.env[TARGET_ENV] = `aws:${prefix}`;
    await expect(runCliJson('redrive', '--region', 'sa-east-1')).rejects.toMatchObject({ code: 'ERR_UNKNOWN_REGION', message: expect.stringContaining('sa-east-1 is not a secondary region') });
    process.env[TARGET_ENV] = `aws:${prefix}Gone`;
    await expect(runCliJson('redrive', '--region', region)).rejects.toMatchObject({ code: 'ERR_NO_TARGET', message: expect.stringContaining(`stack ${prefix}Gone-Region-${region}`) });
    await expect(runCliJson('redrive', '--region', region, '--dead-letter-queue-url', 'http://x')).rejects.toMatchObject({ code: 'ERR_REMOVED_OPTION' });
  });
});
