import { CONTROL_MESSAGE_PREFIX, HEARTBEAT_KIND } from '../events/ControlPlaneHeartbeat.ts';
import { filterPolicyOf, type SelectiveSyncRule } from './SelectiveSyncRule.ts';

/** An SNS subscription filter policy: message attribute → conditions. */
export type FilterPolicyJson = Record<string, unknown[]>;

/** The sync queue's filter: the region's selective-sync rule, and never a heartbeat (it is not work). */
export function syncQueueFilterPolicy(rule: SelectiveSyncRule): FilterPolicyJson {
  return { ...filterPolicyOf(rule), kind: [{ 'anything-but': [HEARTBEAT_KIND] }] };
}

/** The announcements queue's filter: the same rule, with heartbeats let through beside the included namespaces. */
export function announcementsQueueFilterPolicy(rule: SelectiveSyncRule): FilterPolicyJson | undefined {
  const policy = filterPolicyOf(rule);
  if (policy === undefined) return undefined;
  if (policy.repository !== undefined) policy.repository = [...policy.repository, { prefix: CONTROL_MESSAGE_PREFIX }];
  return policy;
}
