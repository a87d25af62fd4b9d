import { describe, expect, it } from '@jest/globals';
import { filterPolicyOf, isIncluded, ruleVersion } from '../../lambdas/shared/selectiveSync/SelectiveSyncRule.ts';

describe('SelectiveSyncRule', () => {
  it('includes by namespace (all when the list is empty) and excludes by namespace, sub-namespaces too', () => {
    const rule = { include: ['acme', 'tools/cli'], exclude: ['acme/secret'] };
    expect(isIncluded(rule, 'acme/app')).toBe(true);
    expect(isIncluded(rule, 'acme/secret/vault')).toBe(false);
    expect(isIncluded(rule, 'acme-other/app')).toBe(false);
    expect(isIncluded(rule, 'tools/cli/main')).toBe(true);
    expect(isIncluded(rule, 'tools/other')).toBe(false);
    expect(isIncluded({ include: [], exclude: ['legacy'] }, 'anything/here')).toBe(true);
    expect(isIncluded({ include: [], exclude: ['legacy'] }, 'legacy/old')).toBe(false);
  });

  it('becomes an SNS filter policy: prefixes on repository, anything-but on the top-level namespace', () => {
    expect(filterPolicyOf({ include: ['tools', 'acme'], exclude: ['legacy', 'acme/secret', 'archive'] })).toEqual({
      repository: [{ prefix: 'acme/' }, { prefix: 'tools/' }],
      namespace: [{ 'anything-but': ['archive', 'legacy'] }],
    });
    expect(filterPolicyOf({ include: [], exclude: [] })).toBeUndefined();
  });

  it('has a version that changes with the rule and not with its order', () => {
    expect(ruleVersion({ include: ['a', 'b'], exclude: [] })).toBe(ruleVersion({ include: ['b', 'a'], exclude: [] }));
    expect(ruleVersion({ include: ['a'], exclude: [] })).not.toBe(ruleVersion({ include: [], exclude: ['a'] }));
  });
});
