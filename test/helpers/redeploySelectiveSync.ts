import { ListSubscriptionsByTopicCommand, SetSubscriptionAttributesCommand } from '@aws-sdk/client-sns';
import type { LocalRuntime } from '../../bin/local/startLocalRuntime.ts';
import { SETTINGS_ENV } from '../../lambdas/shared/config/functionEnv.ts';
import { announcementsQueueFilterPolicy, syncQueueFilterPolicy } from '../../lambdas/shared/selectiveSync/queueFilterPolicies.ts';
import type { SelectiveSyncRule } from '../../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';

/** The functions whose settings carry the region's selective-sync rule. */
const RULE_READERS = ['lambdas/sync/', 'lambdas/backfill/', 'lambdas/announce/'];

/**
 * What a `cdk deploy` of a changed selective-sync rule does to one region: the filter policies of
 * both its subscriptions (sync queue and announcements queue) are replaced, and every function of
 * the region that reads the rule gets it in its settings (warm instances are discarded, as
 * UpdateFunctionConfiguration does).
 */
export async function redeploySelectiveSync(runtime: LocalRuntime, region: string, rule: SelectiveSyncRule): Promise<void> {
  const sns = runtime.clients.region(runtime.primary.region).sns;
  const { Subscriptions = [] } = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: runtime.primary.topicArn }));
  const syncQueueName = runtime.regions[region]!.queueUrl.split('/').pop()!;
  const regional = Subscriptions.filter((candidate) => candidate.Protocol === 'sqs' && candidate.Endpoint?.includes(`:sqs:${region}:`));
  if (!regional.some((subscription) => subscription.Endpoint?.endsWith(`:${syncQueueName}`))) throw new Error(`no subscription for ${region}'s sync queue`);
  for (const subscription of regional) {
    const policy = subscription.Endpoint!.endsWith(`:${syncQueueName}`) ? syncQueueFilterPolicy(rule) : announcementsQueueFilterPolicy(rule);
    await sns.send(new SetSubscriptionAttributesCommand({ SubscriptionArn: subscription.SubscriptionArn, AttributeName: 'FilterPolicy', AttributeValue: policy === undefined ? '' : JSON.stringify(policy) }));
  }
  for (const lambda of runtime.lambdas) {
    if (lambda.fn.region !== region || !RULE_READERS.some((prefix) => lambda.fn.factory.startsWith(prefix))) continue;
    const settings = JSON.parse(lambda.environment[SETTINGS_ENV] ?? '{}') as Record<string, unknown>;
    lambda.updateEnvironment({ [SETTINGS_ENV]: JSON.stringify({ ...settings, selectiveSyncRule: rule }) });
  }
}
