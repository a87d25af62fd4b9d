import { describe, expect, it } from '@jest/globals';
import { assessFreshness } from '../../lambdas/endpoint/assessFreshness.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';

const NOW = new Date('2024-05-01T12:00:00.000Z');
const WINDOW_MS = 300_000;
const ago = (ms: number): string => new Date(NOW.getTime() - ms).toISOString();

function state(overrides: Partial<RepositoryState>): RepositoryState {
  return { repository: parseRepositoryPath('group/project'), replicable: 'git', status: 'synced', attempts: 0, updatedAt: ago(1000), syncedSequence: 7, ...overrides };
}

describe('assessFreshness', () => {
  it('fresh when the registry covers the newest change event', () => {
    expect(assessFreshness(state({}), { latestSequence: 7 }, NOW, WINDOW_MS)).toEqual({ kind: 'fresh' });
    expect(assessFreshness(state({ syncedSequence: 9 }), { latestSequence: 7 }, NOW, WINDOW_MS)).toEqual({ kind: 'fresh' });
  });

  it('stale when behind the newest event by one', () => {
    expect(assessFreshness(state({}), { latestSequence: 8 }, NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'behind' });
  });

  it('stale when the region never replicated it, or never finished a first sync', () => {
    expect(assessFreshness(undefined, { latestSequence: 1 }, NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'not-replicated' });
    expect(assessFreshness(state({ syncedSequence: undefined, status: 'started' }), { latestSequence: 1 }, NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'not-replicated' });
  });

  it('stale when the event log knows nothing of it', () => {
    expect(assessFreshness(state({}), undefined, NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'no-events' });
  });

  it('a sync in progress or a failed one leaves the last complete copy fresh if it covers the newest event', () => {
    expect(assessFreshness(state({ status: 'started' }), { latestSequence: 7 }, NOW, WINDOW_MS).kind).toBe('fresh');
    expect(assessFreshness(state({ status: 'failed' }), { latestSequence: 7 }, NOW, WINDOW_MS).kind).toBe('fresh');
  });

  it('a deleted or unverifiable copy is never served', () => {
    expect(assessFreshness(state({ status: 'deleted' }), { latestSequence: 7 }, NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'unusable' });
    expect(assessFreshness(state({ status: 'verification_failed' }), { latestSequence: 7 }, NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'unusable' });
  });

  it('write-pending within the window after a push through the region, fresh after it', () => {
    expect(assessFreshness(state({ writePendingAt: ago(WINDOW_MS - 1) }), { latestSequence: 7 }, NOW, WINDOW_MS)).toEqual({ kind: 'write-pending', since: ago(WINDOW_MS - 1) });
    expect(assessFreshness(state({ writePendingAt: ago(WINDOW_MS) }), { latestSequence: 7 }, NOW, WINDOW_MS)).toEqual({ kind: 'fresh' });
    // A copy that is behind is stale, pending write or not.
    expect(assessFreshness(state({ writePendingAt: ago(10) }), { latestSequence: 8 }, NOW, WINDOW_MS)).toEqual({ kind: 'stale', reason: 'behind' });
  });
});
