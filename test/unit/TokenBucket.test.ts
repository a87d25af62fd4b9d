import { describe, expect, it } from '@jest/globals';
import { TokenBucket } from '../../lambdas/backfill/TokenBucket.ts';

describe('TokenBucket', () => {
  it('lets the burst through at once, then paces at the rate, over any window', async () => {
    let now = 0;
    const takenAt: number[] = [];
    const bucket = new TokenBucket(4, 3, () => now, (ms) => {
      now += ms;
      return Promise.resolve();
    });
    for (let i = 0; i < 23; i++) {
      await bucket.take(1);
      takenAt.push(now);
    }
    expect(takenAt.slice(0, 3)).toEqual([0, 0, 0]);
    // 20 more at 4 per second: 5 seconds.
    expect(takenAt[22]).toBeGreaterThanOrEqual(5000);
    for (let start = 0; start < takenAt.length; start++) {
      const inWindow = takenAt.filter((at) => at >= takenAt[start]! && at < takenAt[start]! + 1000).length;
      expect(inWindow).toBeLessThanOrEqual(3 + 4);
    }
  });

  it('charges several tokens for one costly step, and refuses a rate that would never refill', async () => {
    let now = 0;
    const bucket = new TokenBucket(2, 2, () => now, (ms) => {
      now += ms;
      return Promise.resolve();
    });
    await bucket.take(2);
    await bucket.take(2);
    expect(now).toBe(1000);
    expect(() => new TokenBucket(0, 1)).toThrow(RangeError);
  });
});
