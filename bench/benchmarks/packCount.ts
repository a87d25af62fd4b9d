import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from '../../bin/local/git.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { MirrorRepository } from '../../lambdas/shared/git/MirrorRepository.ts';
import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { syncRepository } from '../../lambdas/sync/syncRepository.ts';
import type { BenchBed } from '../BenchBed.ts';

export interface PackCountOptions {
  readonly syncs: number;
  /** The deployed default policy unless given. */
  readonly minPacks: number;
  readonly factor: number;
  readonly log: (line: string) => void;
}

export interface PackCountResult {
  readonly syncs: number;
  readonly policy: { readonly minPacks: number; readonly factor: number };
  /** Packs the mirror lists after the last sync, and the most it listed after any sync. */
  readonly packsAtEnd: number;
  readonly mostPacks: number;
  /** Without maintenance every fetching sync adds a pack: the baseline. */
  readonly packsWithoutMaintenance: number;
  readonly repacks: number;
  /** Pack bytes read by repacks over all syncs, over the mirror's final pack bytes (write amplification). */
  readonly repackBytesRatio: number;
  readonly wallSeconds: number;
}

/**
 * Pack count after many syncs of one repository: each round makes one commit on the primary and
 * runs the real sync (discovery, fetch, upload to the region's bucket, publish, pack maintenance
 * under the lease) against the bench's S3 and registry. Without maintenance there would be one
 * pack per sync.
 */
export async function packCount(bed: BenchBed, options: PackCountOptions): Promise<PackCountResult> {
  const repository = parseRepositoryPath('bench/pack-count');
  const primaryDir = await bed.createRepository(repository);
  const region = bed.regions[0]!;
  const store = bed.runtime.mirrors(region);
  const registry = bed.runtime.registry(region);
  const primary = new PrimaryRemote({ baseUrl: bed.primary.url, userAgent: 'git-geo', timeoutMs: 30_000 });
  const mirror = new MirrorRepository(store, repository);
  // The empty tree, written as an object (each round's commit is what its pack carries).
  const empty = join(bed.scratch, 'empty-tree');
  await writeFile(empty, '');
  const tree = (await git(['hash-object', '-w', '-t', 'tree', empty], { cwd: primaryDir })).trim();
  let parent: string | undefined;
  let mostPacks = 0;
  let repacks = 0;
  let repackBytes = 0;
  const started = performance.now();
  for (let sync = 1; sync <= options.syncs; sync++) {
    // One commit per round (its pack holds that commit), written straight into the bare repository.
    const commit = (await git(['commit-tree', tree, '-m', `round ${sync}`, ...(parent === undefined ? [] : ['-p', parent])], { cwd: primaryDir })).trim();
    await git(['update-ref', 'refs/heads/main', commit], { cwd: primaryDir });
    parent = commit;
    const event: ChangeEvent = { version: 1, kind: 'push', repository, changes: [], eventId: `bench:packs:${sync}`, deliveryId: `packs-${sync}`, source: 'git-geo', sequence: sync, receivedAt: new Date().toISOString() };
    const before = await mirror.readState();
    const outcome = await syncRepository({ registry, store, primary, refNamespaces: ['refs/heads/', 'refs/tags/'], now: () => new Date(), leaseSeconds: 300, packMaintenance: { minPacks: options.minPacks, factor: options.factor } }, event);
    if (outcome.kind === 'synced' && (outcome.repacked ?? 0) > 0) {
      repacks++;
      const after = await mirror.readState();
      const kept = new Set(after?.packs ?? []);
      for (const name of before?.packs ?? []) if (!kept.has(name)) repackBytes += before?.packBytes?.get(name) ?? 0;
    }
    const packs = (await mirror.readState())?.packs.length ?? 0;
    mostPacks = Math.max(mostPacks, packs);
    if (sync % 100 === 0 || sync === options.syncs) options.log(`  pack count: ${sync}/${options.syncs} syncs, ${packs} packs (most so far ${mostPacks})`);
  }
  const final = await mirror.readState();
  const finalBytes = [...(final?.packBytes?.values() ?? [])].reduce((sum, bytes) => sum + bytes, 0);
  return {
    syncs: options.syncs,
    policy: { minPacks: options.minPacks, factor: options.factor },
    packsAtEnd: final?.packs.length ?? 0,
    mostPacks,
    packsWithoutMaintenance: options.syncs,
    repacks,
    repackBytesRatio: finalBytes === 0 ? 0 : Math.round((repackBytes / finalBytes) * 10) / 10,
    wallSeconds: Math.round((performance.now() - started) / 100) / 10,
  };
}
