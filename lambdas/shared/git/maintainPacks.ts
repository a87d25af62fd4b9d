import { rm } from 'node:fs/promises';
import type { MirrorRepository, MirrorState } from './MirrorRepository.ts';
import { writeBundle, type BundlePolicy } from './mirrorBundle.ts';
import { mergePacks, type PackSource } from './pack/mergePacks.ts';
import { spoolError, spoolPath } from './pack/spool.ts';

/** How a mirror's packs are kept few. Defaults are written once, in cdk/GeoConfig.ts's schema; these mirror them for direct callers. */
export interface PackMaintenancePolicy {
  /** Repack once the mirror lists at least this many packs (0: never). @default 8 */
  readonly minPacks?: number;
  /** Geometric factor: after a repack every pack is at least this many times the next smaller one. @default 2 */
  readonly factor?: number;
  /** The most pack bytes one repack reads (bounds its time in one invocation); past it only the smallest packs are merged. @default 2 GiB */
  readonly maxBytes?: number;
  /** Where the merged pack is spooled. @default os.tmpdir() */
  readonly spoolDir?: string;
  /** Closed packs (a sync's fetch without haves, a merge of every listed pack) that get a bundle (mirrorBundle.ts); absent: none. */
  readonly bundles?: BundlePolicy;
}

export interface RepackResult {
  readonly state: MirrorState;
  /** Packs merged into `merged` (no longer listed; the backup collector deletes them once no retained snapshot names them). */
  readonly replaced: readonly string[];
  readonly merged?: string;
  readonly bytesRead: number;
}

interface WeighedPack {
  readonly name: string;
  readonly bytes: number;
}

/**
 * Which packs a geometric repack merges (git repack --geometric): sorted by size, the largest
 * packs that already form a geometric progression (each at least `factor` times the one below)
 * stay; the rest are merged, along with any larger pack the merged one would not be `factor`
 * times smaller than. Afterwards the sizes are a geometric progression, so the count is
 * logarithmic in the repository's size; each byte is rewritten O(log) times over its life.
 */
export function planGeometricRepack(packs: readonly WeighedPack[], factor: number): WeighedPack[] {
  const sorted = [...packs].sort((a, b) => a.bytes - b.bytes || a.name.localeCompare(b.name));
  let split = sorted.length - 1;
  for (; split > 0; split--) {
    if (sorted[split]!.bytes < factor * sorted[split - 1]!.bytes) break;
  }
  if (split === 0) return [];
  let total = sorted.slice(0, split).reduce((sum, pack) => sum + pack.bytes, 0);
  while (split < sorted.length && sorted[split]!.bytes < factor * total) {
    total += sorted[split]!.bytes;
    split++;
  }
  return split >= 2 ? sorted.slice(0, split) : [];
}

/**
 * Keeps a mirror's pack count logarithmic: when it lists `minPacks` or more, the packs a geometric
 * repack picks are merged into one. Crash-safe by write order: the new pack and its index, then
 * the pack list (refs untouched: every object stays reachable through the new pack). The old
 * packs are never deleted here; the backup collector deletes a pack only when no mirror's pack
 * list and no retained snapshot names it, so readers that read the old list and restores of
 * older snapshots keep working. The caller holds the repository's lease.
 */
export async function maintainPacks(mirror: MirrorRepository, state: MirrorState, policy: PackMaintenancePolicy = {}): Promise<RepackResult> {
  const minPacks = policy.minPacks ?? 8;
  if (minPacks === 0 || state.packs.length < Math.max(2, minPacks)) return { state, replaced: [], bytesRead: 0 };
  const weighed = await Promise.all(
    state.packs.map(async (name): Promise<WeighedPack> => {
      const known = state.packBytes?.get(name);
      if (known !== undefined) return { name, bytes: known };
      // Lists written before sizes were noted: asked once, noted from now on.
      return { name, bytes: (await mirror.store.head(mirror.key(`objects/pack/${name}.pack`)))?.size ?? 0 };
    }),
  );
  let chosen = planGeometricRepack(weighed, policy.factor ?? 2);
  const maxBytes = policy.maxBytes ?? 2 * 2 ** 30;
  let running = 0;
  // Smallest first: past the budget, the smallest packs are still merged (the count still drops).
  chosen = chosen.filter((pack) => (running += pack.bytes) <= maxBytes);
  if (chosen.length < 2) return { state, replaced: [], bytesRead: 0 };

  const sources = await Promise.all(
    chosen.map(async ({ name, bytes }): Promise<PackSource> => {
      const idx = await mirror.store.get(mirror.key(`objects/pack/${name}.idx`));
      if (idx === undefined) throw new Error(`repack: ${mirror.key(`objects/pack/${name}.idx`)} is missing`);
      return {
        name,
        idx,
        size: bytes,
        open: async () => {
          const opened = await mirror.store.stream(mirror.key(`objects/pack/${name}.pack`));
          if (opened === undefined) throw new Error(`repack: ${mirror.key(`objects/pack/${name}.pack`)} is missing`);
          return opened.body;
        },
      };
    }),
  );
  const path = await spoolPath('repack', policy.spoolDir);
  const merged = await mergePacks(sources, path).catch((error: unknown) => {
    throw spoolError(error, path, 0);
  });
  try {
    await mirror.writePack(merged);
  } finally {
    await rm(merged.packPath, { force: true });
  }
  const replaced = new Set(chosen.map((pack) => pack.name));
  const bytes = new Map(weighed.filter((pack) => !replaced.has(pack.name)).map((pack) => [pack.name, pack.bytes]));
  bytes.set(merged.name, merged.packSize);
  // Largest first: a reader scanning the list finds most objects in the first pack.
  const packs = [...bytes.keys()].sort((a, b) => bytes.get(b)! - bytes.get(a)!);
  let next: MirrorState = { ...state, packs, packBytes: bytes };
  // Every listed pack merged: the new one holds every object the published refs reach.
  if (replaced.size === state.packs.length && policy.bundles !== undefined && merged.packSize >= policy.bundles.minPackBytes) {
    next = { ...next, bundle: await writeBundle(mirror, merged.name, state.snapshot.refs) };
  }
  await mirror.publish(next, state);
  return { state: next, replaced: [...replaced], merged: merged.name, bytesRead: chosen.reduce((sum, pack) => sum + pack.bytes, 0) };
}
