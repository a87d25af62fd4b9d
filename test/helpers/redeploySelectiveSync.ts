import { ListSubscriptionsByTopicCommand, SetSubscriptionAttributesCommand } from '@aws-sdk/client-sns';
import type { LocalRuntime } from '../../bin/local/startLocalRuntime.ts';
import { SETTINGS_ENV } from '../../lambdas/shared/config/functionEnv.ts';
import { filterPolicyOf, type SelectiveSyncRule } from '../../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';

/**
 * What a `cdk deploy` of a changed selective-sync rule does to one region: the subscription's
 * filter policy is replaced, and the functions that read the rule get it in their settings
 * (their warm instances are discarded, as UpdateFunctionConfiguration does).
 */
export async function redeploySelectiveSync(runtime: LocalRuntime, region: string, rule: SelectiveSyncRule): Promise<void> {
  const sns = runtime.clients.region(runtime.primary.region).sns;
  const { Subscriptions = [] } = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: runtime.primary.topicArn }));
  const queueName = runtime.regions[region]!.queueUrl.split('/').pop()!;
  const subscription = Subscriptions.find((candidate) => candidate.Endpoint?.endsWith(`:${queueName}`));
  if (subscription?.SubscriptionArn === undefined) throw new Error(`no subscription for ${region}'s queue`);
  const policy = filterPolicyOf(rule);
  await sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: subscription.SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: policy === undefined ? '' : JSON.stringify(policy) }));
  const info = runtime.regions[region]!;
  for (const lambda of runtime.lambdas) {
    if (lambda.name !== info.syncFunctionName && lambda.name !== info.backfillFunctionName) continue;
    const settings = JSON.parse(lambda.environment[SETTINGS_ENV] ?? '{}') as Record<string, unknown>;
    lambda.updateEnvironment({ [SETTINGS_ENV]: JSON.stringify({ ...settings, selectiveSyncRule: rule }) });
  }
}
