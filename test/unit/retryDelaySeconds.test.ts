import { describe, expect, it } from '@jest/globals';
import { LeaseHeldError, PrimaryUnavailableError } from '../../lambdas/shared/errors/index.ts';
import { retryDelaySeconds } from '../../lambdas/sync/retryDelaySeconds.ts';
import { SyncFailedError } from '../../lambdas/sync/SyncFailedError.ts';
import { SyncPostponedError } from '../../lambdas/sync/SyncPostponedError.ts';

describe('retryDelaySeconds', () => {
  it("a failed sync comes back after its backoff, a postponed one after the rest of its interval", () => {
    expect(retryDelaySeconds(new SyncFailedError('g/p', 3, 40, new PrimaryUnavailableError('down')), 3)).toBe(40);
    expect(retryDelaySeconds(new SyncPostponedError('g/p', 4), 1)).toBe(4);
  });

  it('a held lease is retried after 1, 2, 4 ... s, never later than the lease has left', () => {
    const held = new LeaseHeldError('held', 900);
    expect([1, 2, 3, 4, 10, 50].map((count) => retryDelaySeconds(held, count))).toEqual([1, 2, 4, 8, 512, 512]);
    expect(retryDelaySeconds(new LeaseHeldError('held', 3), 5)).toBe(3);
  });

  it('anything else waits out the queue visibility timeout', () => {
    expect(retryDelaySeconds(new Error('boom'), 1)).toBeUndefined();
  });
});
