import { describe, expect, it } from '@jest/globals';
import { summarise } from '../../bin/ops/regionStatus.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { isStuck } from '../../lambdas/verify/watchStuckSyncs.ts';

const NOW = new Date('2026-01-01T12:00:00Z');
const state = (repository: string, fields: Partial<RepositoryState>): RepositoryState =>
  ({ repository, replicable: 'git', status: 'synced', attempts: 0, updatedAt: NOW.toISOString(), ...fields }) as RepositoryState;

describe('region status', () => {
  it('groups the commonest failures first, transient apart from permanent and from verification, and counts lag, behind and stuck', () => {
    const error = (code: string, retryable: boolean) => ({ code, message: code, retryable, at: NOW.toISOString() });
    const states = [
      state('a/1', { status: 'failed', lastError: error('ERR_PRIMARY_UNAVAILABLE', true) }),
      state('a/2', { status: 'failed', lastError: error('ERR_PRIMARY_UNAVAILABLE', true) }),
      state('a/3', { status: 'failed', lastError: error('ERR_ACCESS_DENIED', false) }),
      state('a/4', { status: 'verification_failed', verificationFailure: { codes: ['pack-corrupt'], message: '', at: '' }, verificationGaveUp: true }),
      state('a/5', { status: 'verified', lagMs: 1000, lastEventSequence: 3, syncedSequence: 3 }),
      state('a/6', { status: 'synced', lagMs: 3000, lastEventSequence: 5, syncedSequence: 4 }),
      state('a/7', { status: 'started', leaseUntil: new Date(NOW.getTime() - 60_000).toISOString() }),
      state('a/8', { status: 'deleted' }),
    ];
    const status = summarise('eu-west-1', states, { paused: true }, NOW, 900);
    expect(status.repositories).toBe(7);
    expect(status.failures[0]).toEqual({ code: 'ERR_PRIMARY_UNAVAILABLE', kind: 'transient', count: 2, examples: ['a/1', 'a/2'], repositories: ['a/1', 'a/2'] });
    expect(status.failures).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'ERR_ACCESS_DENIED', kind: 'permanent', count: 1 }),
        expect.objectContaining({ code: 'pack-corrupt', kind: 'verification', count: 1 }),
      ]),
    );
    expect(status).toEqual(expect.objectContaining({ behind: 1, stuck: 1, verified: 1, verificationGaveUp: 1 }));
    expect(status.lagMs).toEqual({ p50: 3000, p95: 3000, p99: 3000, max: 3000 });
    // Unhealthy first (waits for an operator), then degraded (recovers by itself).
    expect(status.health).toBe('unhealthy');
    expect(status.reasons).toEqual([
      '1 repository failed permanently: ERR_ACCESS_DENIED (1)',
      'verification found damage in 1 mirror: pack-corrupt (1)',
      'repairs given up for 1 mirror',
      '1 sync stuck in started',
      'paused',
      '2 repositories retrying: ERR_PRIMARY_UNAVAILABLE (2)',
    ]);
    expect(status).toEqual(expect.objectContaining({ synced: 2, failed: 4, verified: 1, percent: { synced: 28.6, failed: 57.1, verified: 14.3 } }));
  });

  it('healthy until the backlog or lag passes the objective, dead letters wait, or a backup is overdue; runs are not part of the control state', () => {
    const recent = new Date(NOW.getTime() - 60_000).toISOString();
    const fine = [state('b/1', { status: 'synced', lagMs: 2000, lastSyncedAt: recent, lastEventSequence: 2, syncedSequence: 2 })];
    const control = { paused: false, lastBackup: { at: recent, counts: { repositories: 1 } } };
    const healthy = summarise('eu-west-1', fine, control, NOW, 900, { lagSloSeconds: 60, backupIntervalMinutes: 60, deadLetters: 0 });
    expect(healthy).toEqual(expect.objectContaining({ health: 'healthy', reasons: [], control: { paused: false }, lastBackup: control.lastBackup }));
    expect(healthy.lagHistory).toEqual([{ at: new Date(Math.floor(Date.parse(recent) / 60_000) * 60_000).toISOString(), syncs: 1, p50Ms: 2000, maxMs: 2000 }]);

    const behind = state('b/2', { status: 'pending', lastEventSequence: 1, lastEventReceivedAt: new Date(NOW.getTime() - 120_000).toISOString() });
    // A permanent failure is a failure, not backlog.
    const parked = state('b/3', { status: 'failed', lastEventSequence: 1, lastEventReceivedAt: new Date(NOW.getTime() - 999_000).toISOString(), lastError: { code: 'ERR_REPOSITORY_NOT_FOUND', message: '', retryable: false, at: '' } });
    const late = summarise('eu-west-1', [...fine, behind, parked], { paused: false, lastBackup: { at: new Date(NOW.getTime() - 3 * 3_600_000).toISOString(), counts: {} } }, NOW, 900, {
      lagSloSeconds: 60,
      backupIntervalMinutes: 60,
      deadLetters: 2,
    });
    expect(late.oldestUnreplicatedMs).toBe(120_000);
    expect(late.health).toBe('unhealthy');
    expect(late.reasons).toEqual([
      '1 repository failed permanently: ERR_REPOSITORY_NOT_FOUND (1)',
      '2 change events in the dead-letter queue',
      '1 repository behind; the oldest unreplicated push is 120 s old (objective 60 s)',
      expect.stringMatching(/^the last backup ran at .*, more than two intervals \(60 min\) ago$/),
    ]);
    const slow = summarise('eu-west-1', [state('b/4', { lagMs: 90_000 })], { paused: false }, NOW, 900, { lagSloSeconds: 60 });
    expect(slow).toEqual(expect.objectContaining({ health: 'degraded', reasons: ['lag p99 90 s is above the objective (60 s)'] }));
  });

  it('a backlog the sync has not taken yet (announced to the region, not synced) is behind, with its age', () => {
    const announced = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString();
    const states = [
      // Synced before; a newer push was announced 90 s ago and waits in the queue.
      state('c/1', { status: 'synced', lastEventSequence: 2, syncedSequence: 2, announcedSequence: 3, announcedAt: announced(90) }),
      // New: only the announcement made its item (pending).
      state('c/2', { status: 'pending', announcedSequence: 1, announcedAt: announced(30) }),
      // Announced and synced: not behind.
      state('c/3', { status: 'synced', syncedSequence: 4, announcedSequence: 4, announcedAt: announced(600) }),
    ];
    const storm = summarise('eu-west-1', states, { paused: false }, NOW, 900, { lagSloSeconds: 60 });
    expect(storm).toEqual(expect.objectContaining({ behind: 2, oldestUnreplicatedMs: 90_000, health: 'degraded' }));
    expect(storm.reasons).toEqual(['2 repositories behind; the oldest unreplicated push is 90 s old (objective 60 s)']);
  });

  it('a sync is stuck only once its lease ran out, and is not asked for again while a request has its time', () => {
    const expired = new Date(NOW.getTime() - 1000).toISOString();
    expect(isStuck(state('x/y', { status: 'started', leaseUntil: new Date(NOW.getTime() + 1000).toISOString() }), NOW, 900)).toBe(false);
    expect(isStuck(state('x/y', { status: 'started', leaseUntil: expired }), NOW, 900)).toBe(true);
    expect(isStuck(state('x/y', { status: 'started', leaseUntil: expired, syncRequestedAt: NOW.toISOString() }), NOW, 900)).toBe(false);
    expect(isStuck(state('x/y', { status: 'synced', leaseUntil: expired }), NOW, 900)).toBe(false);
  });
});
