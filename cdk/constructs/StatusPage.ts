import { CfnOutput, Duration, Stack, Token, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { z } from 'zod';
import type { StatusSettings } from '../../lambdas/status/settings.ts';
import { GeoFunction } from './GeoFunction.ts';

export interface StatusPageProps {
  /** This region's registry and queues. */
  readonly registry: ITable;
  readonly queue: IQueue;
  readonly deadLetterQueue: IQueue;
  /** The function's settings (cdk/functionSettings.ts): every secondary region in display order with its stack name (the other regions are found by their outputs), the objective, the refresh. */
  readonly settings: z.input<typeof StatusSettings>;
}

/**
 * The status page of the deployment, served by every region (so it answers while any other
 * region is down) behind a Function URL with IAM auth: SigV4-signed requests only. It reads its
 * own region's registry and queues, and the other regions' through their stacks' outputs.
 */
export class StatusPage extends Construct {
  readonly function: GeoFunction;
  readonly url: FunctionUrl;

  constructor(scope: Construct, id: string, props: StatusPageProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.function = new GeoFunction(stack, `${id}Function`, {
      lambda: 'status',
      description: 'git-geo: the status page, every region\'s health, failures and lag',
      timeout: Duration.seconds(20),
      settings: props.settings,
    });
    this.function.setResource('REGISTRY_TABLE', props.registry.tableName).setResource('QUEUE_URL', props.queue.queueUrl).setResource('DEAD_LETTER_QUEUE_URL', props.deadLetterQueue.queueUrl);
    // Reads only: the registry's items and the queues' depths.
    this.function.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:Scan', 'dynamodb:GetItem'], resources: [props.registry.tableArn] }));
    for (const queue of [props.queue, props.deadLetterQueue]) queue.grant(this.function, 'sqs:GetQueueAttributes');
    const others = props.settings.regionStacks.filter(({ region }) => region !== stack.region);
    if (others.length > 0) {
      // The other regions' resources carry CloudFormation-generated names that start with their stack's name.
      this.function.addToRolePolicy(
        new PolicyStatement({
          actions: ['cloudformation:DescribeStacks'],
          resources: others.map(({ region, stackName }) => `arn:${stack.partition}:cloudformation:${region}:${stack.account}:stack/${stackName}/*`),
        }),
      );
      this.function.addToRolePolicy(
        new PolicyStatement({
          actions: ['dynamodb:Scan', 'dynamodb:GetItem'],
          resources: others.map(({ region, stackName }) => `arn:${stack.partition}:dynamodb:${region}:${stack.account}:table/${stackName}-*`),
        }),
      );
      this.function.addToRolePolicy(
        new PolicyStatement({
          actions: ['sqs:GetQueueAttributes'],
          resources: others.map(({ region, stackName }) => `arn:${stack.partition}:sqs:${region}:${stack.account}:${stackName}-*`),
        }),
      );
    }
    // cdk-nag names each wildcard resource as the template shows it: unresolved account and partition as <AWS::…>.
    const shown = (value: string, pseudo: string): string => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
    for (const { region, stackName } of others) {
      const prefix = `arn:${shown(stack.partition, 'Partition')}`;
      const account = shown(stack.account, 'AccountId');
      for (const resource of [
        `${prefix}:cloudformation:${region}:${account}:stack/${stackName}/*`,
        `${prefix}:dynamodb:${region}:${account}:table/${stackName}-*`,
        `${prefix}:sqs:${region}:${account}:${stackName}-*`,
      ]) {
        Validations.of(this.function).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${resource}]`,
          reason: "Another region's stack, registry and queues: their names are CloudFormation's, known only as the stack name's prefix; read-only actions.",
        });
      }
    }
    this.url = this.function.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    new CfnOutput(stack, `${id}Url`, { value: this.url.url, description: 'The status page (Function URL, IAM auth: sign requests with SigV4)' });
  }
}
