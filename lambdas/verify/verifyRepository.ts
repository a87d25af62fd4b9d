import { randomUUID } from 'node:crypto';
import { LeaseHeldError } from '../shared/errors/index.ts';
import type { SyncRequester } from '../shared/events/SyncRequester.ts';
import type { PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import { filterRefs, refsChecksum } from '../shared/git/RefSnapshot.ts';
import { verifyMirror, type MirrorProblem } from '../shared/git/verifyMirror.ts';
import type { Registry } from '../shared/registry/Registry.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { BlobStepSummary } from '../replicable/blobSteps.ts';
import { backoffSeconds } from '../sync/backoff.ts';

export interface VerifyDependencies {
  readonly registry: Registry;
  readonly store: ObjectStore;
  readonly primary: PrimaryRemote;
  readonly requester: SyncRequester;
  readonly refNamespaces: readonly string[];
  readonly now: () => Date;
  /** Check every pack's content and the object graph, not only refs and files. @default true */
  readonly deep?: boolean;
  /** Repairs (full resyncs) before a repository that keeps failing is flagged and left alone. @default 3 */
  readonly maxRepairs?: number;
  /** Wait before verifying a repaired repository again; doubles with each repair. @default 300 */
  readonly repairBackoffSeconds?: number;
  /** How long the verifier may hold the repository's lease (syncs wait meanwhile). @default 900 */
  readonly leaseSeconds?: number;
  /** Verifies the repository's items of every replicable blob type (LFS objects) against their content, and repairs them. */
  readonly blobs?: (repository: RepositoryPath) => Promise<Record<string, BlobStepSummary>>;
}

export type VerifyOutcome =
  | { readonly kind: 'verified'; readonly checksum: string; readonly packsHashed: number; readonly objects: number; readonly blobs?: Readonly<Record<string, BlobStepSummary>> }
  /** The primary moved on since the last sync: a sync is on its way (or was requested now). Not damage. */
  | { readonly kind: 'behind'; readonly requested: boolean }
  | { readonly kind: 'repairing'; readonly problems: readonly MirrorProblem[]; readonly repairs: number }
  | { readonly kind: 'gave-up'; readonly problems: readonly MirrorProblem[]; readonly repairs: number }
  | { readonly kind: 'skipped'; readonly reason: 'not-mirrored' | 'deleted' | 'busy' | 'backoff' | 'gave-up' };

/**
 * Verifies one repository's mirror in this region and heals it without loops:
 *
 * - The mirror is proven whole from its bytes (verifyMirror), under the repository's lease, so
 *   no sync publishes while it is read.
 * - Its refs are compared with the primary's advertised refs (in the configured namespaces).
 *   Equal: `verified`, with the time and checksum.
 * - Different, while the mirror is exactly what the last sync published (the registry's
 *   checksum): the primary moved on. That is lag, not damage: a sync is already on its way
 *   (the region knows a newer event, or a sync is running or retrying), or one is requested.
 * - Damaged (a file, a pack or an object missing or wrong, or refs that match neither the last
 *   sync nor the primary): `verification_failed` and a repair (a full resync) is requested,
 *   then verification waits a doubling backoff. After `maxRepairs` repairs that did not hold,
 *   the repository is flagged (`verificationGaveUp`, with the reason) and not repaired again
 *   until a verification passes or an operator asks (`force`).
 */
export async function verifyRepository(deps: VerifyDependencies, repository: RepositoryPath, options: { force?: boolean } = {}): Promise<VerifyOutcome> {
  const { registry } = deps;
  const state = await registry.get(repository);
  if (state === undefined || (state.lastSyncedAt === undefined && state.status !== 'verification_failed')) return { kind: 'skipped', reason: 'not-mirrored' };
  if (state.status === 'deleted') return { kind: 'skipped', reason: 'deleted' };
  const now = deps.now();
  if (!options.force && state.verificationGaveUp === true) return { kind: 'skipped', reason: 'gave-up' };
  if (!options.force && state.nextVerifyAt !== undefined && Date.parse(state.nextVerifyAt) > now.getTime()) return { kind: 'skipped', reason: 'backoff' };

  const owner = `verify-${randomUUID()}`;
  try {
    await registry.acquireLease(repository, { owner, until: new Date(now.getTime() + (deps.leaseSeconds ?? 900) * 1000).toISOString() }, now.toISOString());
  } catch (error) {
    if (error instanceof LeaseHeldError) return { kind: 'skipped', reason: 'busy' };
    throw error;
  }
  let released = false;
  try {
    const result = await verifyMirror(deps.store, repository, { deep: deps.deep ?? true });
    let problems = result.problems;
    // The blobs the (whole) mirror refers to, such as LFS objects, re-hashed; wrong ones are deleted and fetched again.
    const blobs = result.ok ? await deps.blobs?.(repository) : undefined;
    if (result.ok && result.snapshot !== undefined) {
      const wanted = filterRefs((await deps.primary.discover(repository)).snapshot, deps.refNamespaces);
      const primaryChecksum = refsChecksum({ ...wanted, head: wanted.head ?? result.snapshot.head });
      if (primaryChecksum === result.refsChecksum) {
        released = true;
        await registry.recordVerification(repository, { status: 'verified', at: deps.now().toISOString(), checksum: primaryChecksum, repairs: 0 }, owner);
        return { kind: 'verified', checksum: primaryChecksum, packsHashed: result.packsHashed, objects: result.objects, ...(blobs === undefined || Object.keys(blobs).length === 0 ? {} : { blobs }) };
      }
      const asLastSynced = state.refsChecksum === undefined || state.refsChecksum === result.refsChecksum;
      const interrupted = state.status === 'started' || state.status === 'failed';
      if (asLastSynced || interrupted) {
        // The primary is ahead of a mirror that is whole: a sync is due, not a repair.
        const pending = interrupted || (state.lastEventSequence ?? 0) > (state.syncedSequence ?? 0);
        released = true;
        await registry.releaseLease(repository, owner);
        if (!pending) await deps.requester.request([{ repository, state, reason: 'verification-behind' }]);
        return { kind: 'behind', requested: !pending };
      }
      problems = [{ code: 'refs-inconsistent', message: "the mirror's refs match neither the last sync nor the primary" }];
    }
    const repairs = state.verificationRepairs ?? 0;
    const at = deps.now().toISOString();
    const failure = { codes: [...new Set(problems.map((problem) => problem.code))], message: problems.map((problem) => problem.message).slice(0, 5).join('; ').slice(0, 1000), at };
    released = true;
    if (repairs >= (deps.maxRepairs ?? 3) && !options.force) {
      await registry.recordVerification(repository, { status: 'verification_failed', at, repairs, failure, gaveUp: true }, owner);
      return { kind: 'gave-up', problems, repairs };
    }
    const wait = backoffSeconds(repairs + 1, deps.repairBackoffSeconds ?? 300, 24 * 3600);
    await registry.recordVerification(
      repository,
      { status: 'verification_failed', at, repairs: repairs + 1, failure, nextVerifyAt: new Date(Date.parse(at) + wait * 1000).toISOString() },
      owner,
    );
    await deps.requester.request([{ repository, state, reason: 'verification-repair' }]);
    return { kind: 'repairing', problems, repairs: repairs + 1 };
  } finally {
    if (!released) await registry.releaseLease(repository, owner);
  }
}
