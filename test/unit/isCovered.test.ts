import { describe, expect, it } from '@jest/globals';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { COVERAGE_MARGIN_MS, isCovered } from '../../lambdas/sync/isCovered.ts';

const RECEIVED_AT = '2024-05-01T12:00:00.000Z';
const RECEIVED_MS = Date.parse(RECEIVED_AT);
const at = (offsetMs: number): string => new Date(RECEIVED_MS + offsetMs).toISOString();

const event: ChangeEvent = {
  version: 1,
  eventId: 'event-7',
  deliveryId: 'delivery-7',
  source: 'gitlab',
  kind: 'push',
  repository: parseRepositoryPath('group/project'),
  changes: [{ ref: 'refs/heads/main', before: 'a'.repeat(40), after: 'b'.repeat(40) }],
  sequence: 7,
  receivedAt: RECEIVED_AT,
};

function state(overrides: Partial<RepositoryState>): RepositoryState {
  return {
    repository: parseRepositoryPath('group/project'),
    replicable: 'git',
    status: 'synced',
    attempts: 0,
    updatedAt: at(0),
    ...overrides,
  };
}

describe('isCovered', () => {
  it('is false for a repository the registry does not know', () => {
    expect(isCovered(event, undefined)).toBe(false);
  });

  it('is true when the registry has synced this sequence or a later one', () => {
    expect(isCovered(event, state({ syncedSequence: 7 }))).toBe(true);
    expect(isCovered(event, state({ syncedSequence: 8 }))).toBe(true);
  });

  it('is false when the registry has synced only an earlier sequence', () => {
    expect(isCovered(event, state({ syncedSequence: 6 }))).toBe(false);
    expect(isCovered(event, state({}))).toBe(false);
  });

  it('is true when the last sync read the refs more than the margin after the webhook arrived', () => {
    expect(isCovered(event, state({ syncedSequence: 3, discoveredAt: at(COVERAGE_MARGIN_MS + 1) }))).toBe(true);
    expect(isCovered(event, state({ discoveredAt: at(60_000) }))).toBe(true);
  });

  it('is false when the refs were read before the webhook arrived or within the margin', () => {
    expect(isCovered(event, state({ discoveredAt: at(-60_000) }))).toBe(false);
    expect(isCovered(event, state({ discoveredAt: at(0) }))).toBe(false);
    expect(isCovered(event, state({ discoveredAt: at(COVERAGE_MARGIN_MS) }))).toBe(false);
    expect(isCovered(event, state({ discoveredAt: at(COVERAGE_MARGIN_MS - 1) }))).toBe(false);
  });

  it('the margin is a small positive number of milliseconds', () => {
    expect(COVERAGE_MARGIN_MS).toBeGreaterThan(0);
    expect(COVERAGE_MARGIN_MS).toBeLessThan(5_000);
  });

  it('is never true for a mirror that failed verification or was deleted, whatever it recorded', () => {
    for (const status of ['verification_failed', 'deleted'] as const) {
      expect(isCovered(event, state({ status, syncedSequence: 100, discoveredAt: at(60_000) }))).toBe(false);
    }
  });

  it('counts other statuses by what they recorded', () => {
    for (const status of ['pending', 'started', 'synced', 'failed', 'verified'] as const) {
      expect(isCovered(event, state({ status, syncedSequence: 7 }))).toBe(true);
      expect(isCovered(event, state({ status, syncedSequence: 6 }))).toBe(false);
    }
  });

  it('is true for a push whose refs the mirror already holds, whatever the times say', () => {
    expect(isCovered(event, state({ syncedSequence: 3, discoveredAt: at(-60_000), refs: { 'refs/heads/main': 'b'.repeat(40), 'refs/heads/other': 'c'.repeat(40) } }))).toBe(true);
    const deletion: ChangeEvent = { ...event, changes: [{ ref: 'refs/heads/gone', before: 'a'.repeat(40), after: '0'.repeat(40) }] };
    expect(isCovered(deletion, state({ refs: { 'refs/heads/main': 'b'.repeat(40) } }))).toBe(true);
    expect(isCovered(deletion, state({ refs: { 'refs/heads/gone': 'a'.repeat(40) } }))).toBe(false);
  });

  it('is false when any ref of the push is elsewhere, refs are not recorded, or the event is not a push', () => {
    const two: ChangeEvent = { ...event, changes: [...event.changes, { ref: 'refs/tags/v1', before: '0'.repeat(40), after: 'd'.repeat(40) }] };
    expect(isCovered(two, state({ refs: { 'refs/heads/main': 'b'.repeat(40) } }))).toBe(false);
    expect(isCovered(event, state({ refs: { 'refs/heads/main': 'a'.repeat(40) } }))).toBe(false);
    expect(isCovered(event, state({}))).toBe(false);
    expect(isCovered({ ...event, kind: 'sync.requested' }, state({ refs: { 'refs/heads/main': 'b'.repeat(40) } }))).toBe(false);
    expect(isCovered({ ...event, changes: [] }, state({ refs: {} }))).toBe(false);
    expect(isCovered(event, state({ status: 'deleted', refs: { 'refs/heads/main': 'b'.repeat(40) } }))).toBe(false);
  });

  it('is true when a sync read the refs after the event\'s batch was received, however close to the webhook', () => {
    expect(isCovered(event, state({ discoveredAt: at(10) }), { receivedAt: at(5) })).toBe(true);
    expect(isCovered(event, state({ discoveredAt: at(10) }), { receivedAt: at(10) })).toBe(false);
    expect(isCovered(event, state({ discoveredAt: at(10) }), { receivedAt: at(20) })).toBe(false);
    expect(isCovered(event, state({ discoveredAt: at(10) }))).toBe(false);
  });

  it('is false for an unparseable discovery time', () => {
    expect(isCovered(event, state({ discoveredAt: 'not a date' }))).toBe(false);
  });
});
