import { MirrorRepository } from '../git/MirrorRepository.ts';
import { ProtocolError } from '../errors/index.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import { findLfsPointers } from './findLfsPointers.ts';
import { lfsObjectKey, type LfsObjectId } from './LfsPointer.ts';
import { forEachLimited, replicateLfsObjects, type LfsReplicationDependencies } from './replicateLfsObjects.ts';
import { matchesObject } from './VerifyingStream.ts';

export interface LfsVerification {
  /** Pointers found in the mirror's packs. */
  readonly pointers: number;
  /** The objects they name (every one verification looked at). */
  readonly objects: readonly LfsObjectId[];
  /** Objects whose stored bytes hash to their oid at their size. */
  readonly verified: number;
  /** Objects that were not in the bucket (never replicated, or lost). */
  readonly missing: readonly string[];
  /** Objects whose stored bytes were wrong: deleted at once, so nobody is served them. */
  readonly corrupt: readonly string[];
  /** Missing or corrupt objects copied again from the primary, verified. */
  readonly repaired: number;
  readonly missingOnPrimary: readonly string[];
  /** Why repairs could not run (the primary unreachable, say); undefined when they ran. */
  readonly repairError?: string;
}

/** The LFS objects a mirror's packs point at. */
export async function mirrorLfsPointers(deps: Pick<LfsReplicationDependencies, 'store'>, repository: RepositoryPath): Promise<LfsObjectId[]> {
  const mirror = new MirrorRepository(deps.store, repository);
  const state = await mirror.readState();
  if (state === undefined) return [];
  const packs = await Promise.all(
    state.packs.map(async (name) => {
      const [pack, idx] = await Promise.all([deps.store.get(mirror.key(`objects/pack/${name}.pack`)), deps.store.get(mirror.key(`objects/pack/${name}.idx`))]);
      if (pack === undefined || idx === undefined) throw new ProtocolError(`pack ${name} of ${repository} is listed but missing`, { data: { repository, name } });
      return { pack, idx };
    }),
  );
  return findLfsPointers(packs);
}

/**
 * Verifies every LFS object a repository's mirror points at by re-hashing its stored bytes
 * (never by size alone), deletes the ones that are wrong, and copies missing and corrupt ones
 * again from the primary. It is also the backfill of a repository mirrored before its LFS
 * objects were: they are missing, and repaired.
 */
export async function verifyLfsObjects(deps: LfsReplicationDependencies, repository: RepositoryPath, listed?: readonly LfsObjectId[]): Promise<LfsVerification> {
  const { store } = deps;
  const pointers = listed ?? (await mirrorLfsPointers(deps, repository));
  const missing: LfsObjectId[] = [];
  const corrupt: LfsObjectId[] = [];
  let verified = 0;
  await forEachLimited(pointers, 4, async (pointer) => {
    const stored = await store.stream(lfsObjectKey(repository, pointer.oid));
    if (stored === undefined) {
      missing.push(pointer);
      return;
    }
    const ok = await matchesObject(stored.body, pointer).finally(() => stored.body.destroy());
    if (ok) verified++;
    else corrupt.push(pointer);
  });
  if (corrupt.length > 0) await store.delete(corrupt.map((pointer) => lfsObjectKey(repository, pointer.oid)));
  const result = { pointers: pointers.length, objects: [...pointers], verified, missing: missing.map((p) => p.oid), corrupt: corrupt.map((p) => p.oid) };
  if (missing.length + corrupt.length === 0) return { ...result, repaired: 0, missingOnPrimary: [] };
  try {
    const repair = await replicateLfsObjects(deps, repository, [...missing, ...corrupt]);
    return { ...result, repaired: repair.fetched, missingOnPrimary: repair.missingOnPrimary };
  } catch (error) {
    return { ...result, repaired: 0, missingOnPrimary: [], repairError: (error as Error).message };
  }
}
