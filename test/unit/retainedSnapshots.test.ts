import { describe, expect, it } from '@jest/globals';
import { retainedSnapshots } from '../../lambdas/backup/retainedSnapshots.ts';
import { snapshotId, snapshotTime } from '../../lambdas/backup/SnapshotManifest.ts';

const at = (iso: string): { id: string; at: Date } => ({ id: snapshotId(new Date(iso)), at: new Date(iso) });

describe('retainedSnapshots', () => {
  const now = new Date('2026-11-28T12:30:00Z');
  const snapshots = [
    at('2026-11-28T12:10:00Z'),
    at('2026-11-28T12:20:00Z'), // newest of 12:00
    at('2026-11-28T11:05:00Z'),
    at('2026-11-28T11:55:00Z'), // newest of 11:00
    at('2026-11-28T09:00:00Z'), // newest of 09:00
    at('2026-11-27T23:00:00Z'), // newest of the 27th
    at('2026-11-27T01:00:00Z'),
    at('2026-11-20T05:00:00Z'), // newest of the 20th
    at('2026-10-01T05:00:00Z'), // older than the daily window
  ];

  it('keeps the newest of each hour for hourlyForHours and of each day for dailyForDays', () => {
    const kept = retainedSnapshots(snapshots, now, { hourlyForHours: 3, dailyForDays: 30 });
    expect([...kept].sort()).toEqual(
      ['2026-11-28T12:20:00Z', '2026-11-28T11:55:00Z', '2026-11-27T23:00:00Z', '2026-11-20T05:00:00Z'].map((iso) => snapshotId(new Date(iso))).sort(),
    );
  });

  it('a longer hourly window keeps more hours; nothing outside the windows survives except the newest', () => {
    const kept = retainedSnapshots(snapshots, now, { hourlyForHours: 24, dailyForDays: 0 });
    expect(kept.has(snapshotId(new Date('2026-11-28T09:00:00Z')))).toBe(true);
    expect(kept.has(snapshotId(new Date('2026-11-27T23:00:00Z')))).toBe(true);
    expect(kept.has(snapshotId(new Date('2026-11-20T05:00:00Z')))).toBe(false);
    expect(retainedSnapshots(snapshots, now, { hourlyForHours: 0, dailyForDays: 0 })).toEqual(new Set([snapshotId(new Date('2026-11-28T12:20:00Z'))]));
    expect(retainedSnapshots([], now, { hourlyForHours: 24, dailyForDays: 30 })).toEqual(new Set());
  });

  it('snapshot ids sort as times and parse back', () => {
    const id = snapshotId(new Date('2026-11-28T09:30:00.123Z'));
    expect(id).toBe('20261128T093000123Z');
    expect(snapshotTime(id).toISOString()).toBe('2026-11-28T09:30:00.123Z');
    expect(() => snapshotTime('latest')).toThrow(/not a snapshot id/);
  });
});
