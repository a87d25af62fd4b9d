import * as z from 'zod';
import { mirrorPrefix, RETIRED_PACKS_PREFIX } from '../shared/git/MirrorRepository.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';

/**
 * Where snapshot manifests live in a region's bucket: outside every repository's prefix
 * (repository paths cannot start with '.'), so they outlive a repository's deletion or rename.
 */
export const SNAPSHOT_PREFIX = '.git-geo/snapshots/';

/**
 * Where a deletion or rename puts the packs of the mirror it removes, by name, so snapshots taken
 * before it keep their objects. The garbage collector drops those no retained snapshot names.
 */
export { RETIRED_PACKS_PREFIX };

const Oid = z.string().regex(/^[0-9a-f]{40}([0-9a-f]{24})?$/);
const PackName = z.string().regex(/^pack-[0-9a-f]{40,64}$/);

export const SnapshotRepositorySchema = z.object({
  repository: z.string().min(1),
  head: z.string().optional(),
  refs: z.record(z.string(), Oid),
  peeled: z.record(z.string(), Oid).default({}),
  /** Every pack the mirror listed: together they hold every object the refs reach. */
  packs: z.array(z.object({ name: PackName, key: z.string().min(1), bytes: z.number().int().min(0) })),
});
export type SnapshotRepository = z.infer<typeof SnapshotRepositorySchema>;

/** A point-in-time snapshot of a region: refs, HEAD and the (immutable, content-named) packs they need. No data is copied. */
export const SnapshotManifestSchema = z.object({
  version: z.literal(1),
  id: z.string().regex(/^\d{8}T\d{9}Z$/),
  region: z.string().min(1),
  takenAt: z.iso.datetime(),
  repositories: z.array(SnapshotRepositorySchema),
});
export type SnapshotManifest = z.infer<typeof SnapshotManifestSchema>;

/** Snapshot ids sort as their times do: `20261128T093000123Z`. */
export function snapshotId(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

export function snapshotTime(id: string): Date {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z$/.exec(id);
  if (match === null) throw new Error(`not a snapshot id: ${id}`);
  const [, y, mo, d, h, mi, s, ms] = match;
  return new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}.${ms}Z`);
}

export function snapshotKey(id: string): string {
  return `${SNAPSHOT_PREFIX}${id}.json`;
}

export function packKey(repository: RepositoryPath | string, name: string, ext: 'pack' | 'idx'): string {
  return `${mirrorPrefix(repository as RepositoryPath)}objects/pack/${name}.${ext}`;
}

export function retiredPackKey(name: string, ext: 'pack' | 'idx'): string {
  return `${RETIRED_PACKS_PREFIX}${name}.${ext}`;
}
