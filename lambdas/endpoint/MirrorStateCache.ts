import { MirrorRepository, type MirrorState } from '../shared/git/MirrorRepository.ts';
import type { RepositoryState } from '../shared/registry/RepositoryState.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';

export interface MirrorStateCacheSettings {
  /** Longest a state read from the bucket is reused. */
  readonly maxAgeMs: number;
  /** Repositories remembered per instance, least recently used out. */
  readonly maxEntries: number;
  readonly now: () => number;
}

interface Entry {
  readonly version: string;
  readonly readAt: number;
  readonly state: MirrorState;
}

/**
 * A function instance's copy of each mirror's refs and pack list, so the POSTs of one fetch
 * (ls-refs, then one or more negotiation rounds) read the bucket once rather than three times
 * each. An entry counts only for the registry record it was read under (sequence, refs
 * checksum, time of sync): a sync or a repair that changes the mirror changes the record, and
 * the next read goes to the bucket. Packs a repack drops from the list stay in the bucket until
 * the backup collector removes them, far longer than `maxAgeMs`, so a remembered list is never
 * one whose packs are gone.
 */
export class MirrorStateCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly store: ObjectStore,
    private readonly settings: MirrorStateCacheSettings,
  ) {}

  async read(repository: RepositoryPath, registered: RepositoryState): Promise<MirrorState | undefined> {
    const version = `${registered.syncedSequence}/${registered.refsChecksum}/${registered.lastSyncedAt}`;
    const now = this.settings.now();
    const cached = this.entries.get(repository);
    this.entries.delete(repository);
    if (cached !== undefined && cached.version === version && now - cached.readAt < this.settings.maxAgeMs) {
      this.entries.set(repository, cached);
      return cached.state;
    }
    const state = await new MirrorRepository(this.store, repository).readState();
    if (state === undefined) return undefined;
    this.entries.set(repository, { version, readAt: now, state });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.settings.maxEntries) break;
      this.entries.delete(oldest);
    }
    return state;
  }
}
