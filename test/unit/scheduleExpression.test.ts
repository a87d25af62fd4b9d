import { describe, expect, it } from '@jest/globals';
import { nextFire } from '../../bin/local/scheduleExpression.ts';

const at = (iso: string): Date => new Date(iso);

describe('nextFire', () => {
  it('counts rate() from the given time', () => {
    expect(nextFire('rate(5 minutes)', at('2026-01-01T00:00:30Z')).toISOString()).toBe('2026-01-01T00:05:30.000Z');
    expect(nextFire('rate(1 hour)', at('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-01T01:00:00.000Z');
    expect(nextFire('rate(2 days)', at('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-03T00:00:00.000Z');
  });
  it('evaluates cron() in UTC, with steps, lists, ranges and names', () => {
    expect(nextFire('cron(0/15 * * * ? *)', at('2026-01-01T00:07:00Z')).toISOString()).toBe('2026-01-01T00:15:00.000Z');
    expect(nextFire('cron(30 2 * * ? *)', at('2026-01-01T03:00:00Z')).toISOString()).toBe('2026-01-02T02:30:00.000Z');
    expect(nextFire('cron(0 9 ? * MON-FRI *)', at('2026-01-03T10:00:00Z')).toISOString()).toBe('2026-01-05T09:00:00.000Z');
    expect(nextFire('cron(0 0 1 JAN,JUL ? *)', at('2026-02-01T00:00:00Z')).toISOString()).toBe('2026-07-01T00:00:00.000Z');
  });
  it('never answers the given minute itself', () => {
    expect(nextFire('cron(* * * * ? *)', at('2026-01-01T00:00:00Z')).toISOString()).toBe('2026-01-01T00:01:00.000Z');
  });
  it('rejects what it cannot evaluate', () => {
    expect(() => nextFire('at(2026-01-01T00:00:00)', new Date())).toThrow(/unsupported/);
    expect(() => nextFire('cron(0 0 * *)', new Date())).toThrow(/six fields/);
  });
});
