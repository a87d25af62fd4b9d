import { pipeline } from 'node:stream/promises';
import { PrimaryUnavailableError } from '../errors/index.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import type { ObjectStore } from '../storage/ObjectStore.ts';
import type { LfsApi, LfsBatchObject } from './LfsApi.ts';
import { lfsObjectKey, type LfsObjectId } from './LfsPointer.ts';
import { VerifyingStream } from './VerifyingStream.ts';

export interface LfsReplicationDependencies {
  readonly store: ObjectStore;
  /** The primary's LFS API, with the configured read credentials. */
  readonly api: LfsApi;
  /** Downloads at once. @default 4 */
  readonly concurrency?: number;
}

export interface LfsReplicationResult {
  /** Objects the region already held at their size. */
  readonly present: number;
  readonly fetched: number;
  readonly fetchedBytes: number;
  /** Objects the primary says it does not have (a pointer pushed without its object): nothing to copy. */
  readonly missingOnPrimary: readonly string[];
}

/** Objects asked for in one batch request (git-lfs itself sends 100). */
const BATCH_SIZE = 100;

/** Runs `work` on every item, `concurrency` at a time; the first failure stops new work and is thrown. */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (!failed && next < items.length) {
        try {
          await work(items[next++]!);
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    }),
  );
}

/**
 * Copies LFS objects from the primary into the region's bucket: each object the region lacks
 * is asked for through the primary's batch API and streamed into place through a
 * VerifyingStream, so content whose SHA-256 or size does not match its oid is never stored,
 * and memory stays at a few upload parts whatever the object's size.
 */
export async function replicateLfsObjects(deps: LfsReplicationDependencies, repository: RepositoryPath, objects: readonly LfsObjectId[]): Promise<LfsReplicationResult> {
  const { store } = deps;
  const concurrency = deps.concurrency ?? 4;
  const needed: LfsObjectId[] = [];
  await forEachLimited(objects, 16, async (object) => {
    const held = await store.head(lfsObjectKey(repository, object.oid));
    if (held?.size !== object.size) needed.push(object);
  });
  let fetched = 0;
  let fetchedBytes = 0;
  const missingOnPrimary: string[] = [];
  for (let start = 0; start < needed.length; start += BATCH_SIZE) {
    const chunk = needed.slice(start, start + BATCH_SIZE);
    const answer = await deps.api.batch(repository, 'download', chunk);
    const answered = new Map(answer.objects.map((object) => [object.oid, object]));
    await forEachLimited(chunk, concurrency, async (object) => {
      const entry: LfsBatchObject | undefined = answered.get(object.oid);
      const download = entry?.actions?.download;
      if (download === undefined) {
        const code = entry?.error?.code;
        if (code === 404 || code === 410 || entry === undefined) {
          missingOnPrimary.push(object.oid);
          return;
        }
        throw new PrimaryUnavailableError(`the primary could not serve LFS object ${object.oid}: ${code ?? 'no download action'} ${entry.error?.message ?? ''}`.trim(), {
          data: { repository, oid: object.oid, code },
        });
      }
      const body = await deps.api.open(download);
      const verifier = new VerifyingStream(object);
      await Promise.all([pipeline(body, verifier), store.putStream(lfsObjectKey(repository, object.oid), verifier)]);
      fetched++;
      fetchedBytes += object.size;
    });
  }
  return { present: objects.length - needed.length, fetched, fetchedBytes, missingOnPrimary };
}
