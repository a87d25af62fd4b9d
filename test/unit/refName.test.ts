import { describe, expect, it } from '@jest/globals';
import { isValidRefName } from '../../lambdas/shared/git/refName.ts';

describe('isValidRefName', () => {
  it('accepts ordinary refs', () => {
    expect(isValidRefName('refs/heads/main')).toBe(true);
    expect(isValidRefName('refs/tags/v1.0.0')).toBe(true);
    expect(isValidRefName('refs/merge-requests/12/head')).toBe(true);
  });
  it('rejects what git rejects', () => {
    for (const bad of ['main', 'refs/heads/a..b', 'refs/heads/x.lock', 'refs/heads/a b', 'refs/heads/.hidden', 'refs/heads/', 'refs/heads/a~1', 'refs/heads/a@{1}']) {
      expect(isValidRefName(bad)).toBe(false);
    }
  });
});
