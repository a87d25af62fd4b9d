import { describe, expect, it } from '@jest/globals';
import { backoffSeconds } from '../../lambdas/sync/backoff.ts';

const SQS_MAX_VISIBILITY_SECONDS = 12 * 3600;

describe('backoffSeconds', () => {
  it('starts at the base delay', () => {
    expect(backoffSeconds(1)).toBe(10);
    expect(backoffSeconds(1, 3)).toBe(3);
  });

  it('treats zero and negative attempts like the first', () => {
    expect(backoffSeconds(0)).toBe(10);
    expect(backoffSeconds(-5)).toBe(10);
  });

  it('doubles with each attempt', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => backoffSeconds(attempt))).toEqual([10, 20, 40, 80, 160]);
  });

  it('grows monotonically and stays under SQS visibility limit for any attempt', () => {
    let previous = 0;
    for (let attempt = 1; attempt <= 1000; attempt++) {
      const delay = backoffSeconds(attempt);
      expect(delay).toBeGreaterThanOrEqual(previous);
      expect(delay).toBeLessThan(SQS_MAX_VISIBILITY_SECONDS);
      expect(Number.isInteger(delay)).toBe(true);
      previous = delay;
    }
  });

  it('is capped at the default maximum (12 h minus 1 s)', () => {
    expect(backoffSeconds(100)).toBe(SQS_MAX_VISIBILITY_SECONDS - 1);
    expect(backoffSeconds(Number.MAX_SAFE_INTEGER)).toBe(SQS_MAX_VISIBILITY_SECONDS - 1);
  });

  it('is capped at a given maximum', () => {
    expect(backoffSeconds(3, 10, 30)).toBe(30);
    expect(backoffSeconds(2, 10, 30)).toBe(20);
    expect(backoffSeconds(50, 1, 60)).toBe(60);
  });
});
