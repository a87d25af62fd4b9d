import type { RepositoryPath } from '../repositoryPath.ts';

export const REPLICATION_STATUSES = [
  'pending',
  'started',
  'synced',
  'failed',
  'verified',
  'verification_failed',
  'deleted',
] as const;
export type ReplicationStatus = (typeof REPLICATION_STATUSES)[number];

export interface RecordedError {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  readonly at: string;
}

/** One replicable's state in one region's registry. Times are ISO-8601 strings. */
export interface RepositoryState {
  readonly repository: RepositoryPath;
  /** The data type, as in Geo's Self-Service Framework: 'git' for repositories. */
  readonly replicable: string;
  readonly status: ReplicationStatus;
  /** Highest event sequence this region has been told about. */
  readonly lastEventSequence?: number;
  readonly lastEventReceivedAt?: string;
  /** Highest event sequence announced to this region (recorded as its message arrived, before any sync). */
  readonly announcedSequence?: number;
  readonly announcedAt?: string;
  /** Highest event sequence the mirror is known to cover. */
  readonly syncedSequence?: number;
  readonly syncStartedAt?: string;
  readonly lastSyncedAt?: string;
  /** When the last successful sync read the primary's refs: every event received before it is covered. */
  readonly discoveredAt?: string;
  /** Push (webhook receipt) to replicated, for the newest event the last sync covered. */
  readonly lagMs?: number;
  readonly head?: string;
  readonly refCount?: number;
  readonly refsChecksum?: string;
  /** The refs the last sync reached, when there are few enough to keep here. */
  readonly refs?: Readonly<Record<string, string>>;
  readonly packCount?: number;
  readonly lastFetchBytes?: number;
  /** Refs the primary advertised under names git refuses (escaped), and why: not mirrored. */
  readonly refusedRefs?: readonly { readonly name: string; readonly reason: string }[];
  /** Consecutive attempts since the last success. */
  readonly attempts: number;
  readonly lastError?: RecordedError;
  readonly nextAttemptAt?: string;
  /** Whether the primary served the repository without credentials when `accessCheckedAt` was read. */
  readonly anonymousRead?: boolean;
  readonly accessCheckedAt?: string;
  /** The last push through this region's endpoint began then: reads double-check the primary for a while. */
  readonly writePendingAt?: string;
  /** For `deleted`: when the deletion (or the rename away) was received; events received before it are stale. */
  readonly deletedAt?: string;
  /** For `deleted` by a deletion event of this path: its sequence. */
  readonly deletedSequence?: number;
  /** For `deleted` by a rename or transfer: where the repository and its mirror went. */
  readonly movedTo?: string;
  /** For `deleted` with tombstones: the key prefix the mirror was moved to. */
  readonly tombstone?: string;
  /** The sync holding the repository (a queue message id) and until when; expired leases are free. */
  readonly leaseOwner?: string;
  readonly leaseUntil?: string;
  readonly updatedAt: string;
  /** The last verification, whatever it found. */
  readonly lastVerifiedAt?: string;
  /** The last successful verification, and the refs checksum it proved. */
  readonly verifiedAt?: string;
  readonly verifiedChecksum?: string;
  /** Repairs (full resyncs) since the last successful verification. */
  readonly verificationRepairs?: number;
  /** What the last failed verification found. */
  readonly verificationFailure?: { readonly codes: readonly string[]; readonly message: string; readonly at: string };
  /** Repairs used up: the repository waits for an operator (or a verification that passes). */
  readonly verificationGaveUp?: boolean;
  /** Verification waits until then (backoff after a repair). */
  readonly nextVerifyAt?: string;
  /** When git-geo itself last asked for a sync (watchdog, verification, backfill), and why. */
  readonly syncRequestedAt?: string;
  readonly syncRequestReason?: string;
}
