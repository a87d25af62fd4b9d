import { describe, expect, it } from '@jest/globals';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { isSuperseded } from '../../lambdas/sync/isSuperseded.ts';

const repository = 'group/project' as RepositoryPath;
const event = (sequence: number, receivedAt: string): ChangeEvent => ({
  version: 1,
  kind: 'push',
  repository,
  changes: [],
  eventId: `e${sequence}`,
  deliveryId: `d${sequence}`,
  source: 'gitlab',
  sequence,
  receivedAt,
});
const state = (overrides: Partial<RepositoryState>): RepositoryState => ({ repository, replicable: 'git', status: 'deleted', attempts: 0, updatedAt: '2024-01-01T00:00:10Z', ...overrides });

describe('isSuperseded', () => {
  it('an event received before the deletion (or the rename away) is stale', () => {
    expect(isSuperseded(event(9, '2024-01-01T00:00:04Z'), state({ deletedAt: '2024-01-01T00:00:05Z' }))).toBe(true);
    expect(isSuperseded(event(9, '2024-01-01T00:00:05Z'), state({ deletedAt: '2024-01-01T00:00:05Z', movedTo: 'group/other' }))).toBe(true);
  });

  it('an event with a sequence up to the deletion is stale, whatever the clocks said', () => {
    expect(isSuperseded(event(3, '2024-01-01T00:00:06Z'), state({ deletedAt: '2024-01-01T00:00:05Z', deletedSequence: 3 }))).toBe(true);
    expect(isSuperseded(event(4, '2024-01-01T00:00:06Z'), state({ deletedAt: '2024-01-01T00:00:05Z', deletedSequence: 3 }))).toBe(false);
  });

  it('a later event (the path was reused) is not stale; nor is anything for a repository that is not deleted', () => {
    expect(isSuperseded(event(9, '2024-01-01T00:00:06Z'), state({ deletedAt: '2024-01-01T00:00:05Z' }))).toBe(false);
    expect(isSuperseded(event(1, '2020-01-01T00:00:00Z'), state({ status: 'synced', deletedAt: '2024-01-01T00:00:05Z' }))).toBe(false);
    expect(isSuperseded(event(1, '2020-01-01T00:00:00Z'), undefined)).toBe(false);
  });
});
