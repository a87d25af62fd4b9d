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
    expect(status.failures[0]).toEqual({ code: 'ERR_PRIMARY_UNAVAILABLE', kind: 'transient', count: 2, examples: ['a/1', 'a/2'] });
    expect(status.failures).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ code: 'ERR_ACCESS_DENIED', kind: 'permanent', count: 1 }),
        expect.objectContaining({ code: 'pack-corrupt', kind: 'verification', count: 1 }),
      ]),
    );
    expect(status).toEqual(expect.objectContaining({ behind: 1, stuck: 1, verified: 1, verificationGaveUp: 1 }));
    expect(status.lagMs).toEqual({ p50: 3000, p95: 3000, max: 3000 });
  });

  it('a sync is stuck only once its lease ran out, and is not asked for again while a request has its time', () => {
    const expired = new Date(NOW.getTime() - 1000).toISOString();
    expect(isStuck(state('x/y', { status: 'started', leaseUntil: new Date(NOW.getTime() + 1000).toISOString() }), NOW, 900)).toBe(false);
    expect(isStuck(state('x/y', { status: 'started', leaseUntil: expired }), NOW, 900)).toBe(true);
    expect(isStuck(state('x/y', { status: 'started', leaseUntil: expired, syncRequestedAt: NOW.toISOString() }), NOW, 900)).toBe(false);
    expect(isStuck(state('x/y', { status: 'synced', leaseUntil: expired }), NOW, 900)).toBe(false);
  });
});
