import { describe, expect, it } from '@jest/globals';
import { assessFreshness, type ControlPlaneView } from '../../lambdas/endpoint/assessFreshness.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';

const NOW = new Date('2024-05-01T12:00:00.000Z');
const WINDOW_MS = 300_000;
const ago = (ms: number): string => new Date(NOW.getTime() - ms).toISOString();
const LOSS_MS = 180_000;
const BUDGET_MS = 3_600_000;
const heard = (msAgo: number): ControlPlaneView => ({ heardAt: ago(msAgo), lossAfterMs: LOSS_MS, stalenessBudgetMs: BUDGET_MS });

function state(overrides: Partial<RepositoryState>): RepositoryState {
  return { repository: parseRepositoryPath('group/project'), replicable: 'git', status: 'synced', attempts: 0, updatedAt: ago(1000), syncedSequence: 7, announcedSequence: 7, ...overrides };
}

describe('assessFreshness (regional numbers only)', () => {
  it('fresh when the copy covers the newest event announced to the region', () => {
    expect(assessFreshness(state({}), NOW, WINDOW_MS, heard(1000))).toEqual({ kind: 'fresh' });
    expect(assessFreshness(state({ syncedSequence: 9 }), NOW, WINDOW_MS, heard(1000))).toEqual({ kind: 'fresh' });
    // A repository synced before announcements were recorded: the sync's own newest event counts.
    expect(assessFreshness(state({ announcedSequence: undefined, lastEventSequence: 7 }), NOW, WINDOW_MS)).toEqual({ kind: 'fresh' });
  });

  it('stale when an announced event is not synced yet, whichever number knows it', () => {
    expect(assessFreshness(state({ announcedSequence: 8 }), NOW, WINDOW_MS, heard(1000))).toEqual({ kind: 'stale', reason: 'behind' });
    expect(assessFreshness(state({ announcedSequence: undefined, lastEventSequence: 8 }), NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'behind' });
  });

  it('stale when the region never replicated it, or never finished a first sync', () => {
    expect(assessFreshness(undefined, NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'not-replicated' });
    expect(assessFreshness(state({ syncedSequence: undefined, status: 'pending' }), NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'not-replicated' });
  });

  it('a sync in progress or a failed one leaves the last complete copy fresh if it covers the newest event', () => {
    expect(assessFreshness(state({ status: 'started' }), NOW, WINDOW_MS).kind).toBe('fresh');
    expect(assessFreshness(state({ status: 'failed' }), NOW, WINDOW_MS).kind).toBe('fresh');
  });

  it('a deleted or unverifiable copy is never served', () => {
    expect(assessFreshness(state({ status: 'deleted' }), NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'unusable' });
    expect(assessFreshness(state({ status: 'verification_failed' }), NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'unusable' });
  });

  it('write-pending within the window after a push through the region, fresh after it', () => {
    expect(assessFreshness(state({ writePendingAt: ago(WINDOW_MS - 1) }), NOW, WINDOW_MS)).toEqual({ kind: 'write-pending', since: ago(WINDOW_MS - 1) });
    expect(assessFreshness(state({ writePendingAt: ago(WINDOW_MS) }), NOW, WINDOW_MS)).toEqual({ kind: 'fresh' });
    expect(assessFreshness(state({ writePendingAt: ago(10), announcedSequence: 8 }), NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'behind' });
  });

  it('unproven once the control plane is silent past the loss threshold; outside the budget after it', () => {
    expect(assessFreshness(state({}), NOW, WINDOW_MS, heard(LOSS_MS))).toEqual({ kind: 'fresh' });
    expect(assessFreshness(state({}), NOW, WINDOW_MS, heard(LOSS_MS + 1))).toEqual({ kind: 'unproven', since: ago(LOSS_MS + 1), withinBudget: true });
    expect(assessFreshness(state({}), NOW, WINDOW_MS, heard(BUDGET_MS + 1))).toEqual({ kind: 'unproven', since: ago(BUDGET_MS + 1), withinBudget: false });
    // Never heard (a new region): nothing says announcements stopped.
    expect(assessFreshness(state({}), NOW, WINDOW_MS, { lossAfterMs: LOSS_MS, stalenessBudgetMs: BUDGET_MS })).toEqual({ kind: 'fresh' });
  });

  it('a copy known to be behind is stale whatever the control plane does; a pending write is checked first', () => {
    expect(assessFreshness(state({ announcedSequence: 8 }), NOW, WINDOW_MS, heard(BUDGET_MS * 2))).toEqual({ kind: 'stale', reason: 'behind' });
    expect(assessFreshness(state({ writePendingAt: ago(10) }), NOW, WINDOW_MS, heard(BUDGET_MS * 2)).kind).toBe('write-pending');
  });
});
