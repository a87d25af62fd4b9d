import { createHash } from 'node:crypto';

/** Which repositories one region holds, by namespace (`acme`, `acme/platform`). Empty `include`: every namespace. */
export interface SelectiveSyncRule {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
}

export const HOLD_EVERYTHING: SelectiveSyncRule = { include: [], exclude: [] };

const under = (repository: string, namespace: string): boolean => repository.startsWith(`${namespace}/`);

/** True when the region holds `repository` under `rule`: under an included namespace (or all are), and under no excluded one. */
export function isIncluded(rule: SelectiveSyncRule, repository: string): boolean {
  if (rule.include.length > 0 && !rule.include.some((namespace) => under(repository, namespace))) return false;
  return !rule.exclude.some((namespace) => under(repository, namespace));
}

/** A short, stable name for a rule: a change of rule is a change of version. */
export function ruleVersion(rule: SelectiveSyncRule): string {
  const normal = { include: [...new Set(rule.include)].sort(), exclude: [...new Set(rule.exclude)].sort() };
  return createHash('sha256').update(JSON.stringify(normal)).digest('hex').slice(0, 16);
}

/**
 * The rule as an SNS subscription filter policy on the attributes the publisher sets
 * (`repository`, and `namespace`, the top-level one). Included namespaces become `prefix`
 * conditions on `repository`; excluded top-level namespaces an `anything-but` on `namespace`.
 * SNS cannot AND several prefix exclusions on one attribute, so excluded sub-namespaces
 * (`acme/secret`) are left to the sync, which drops what the rule excludes anyway.
 * Undefined when the rule lets everything through.
 */
export function filterPolicyOf(rule: SelectiveSyncRule): Record<string, unknown[]> | undefined {
  const policy: Record<string, unknown[]> = {};
  if (rule.include.length > 0) policy.repository = [...new Set(rule.include)].sort().map((namespace) => ({ prefix: `${namespace}/` }));
  const topLevel = [...new Set(rule.exclude.filter((namespace) => !namespace.includes('/')))].sort();
  if (topLevel.length > 0) policy.namespace = [{ 'anything-but': topLevel }];
  return Object.keys(policy).length === 0 ? undefined : policy;
}
