import { createHash } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SnapshotManifest } from '../../lambdas/backup/SnapshotManifest.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';
import { git, listRefs } from '../local/git.ts';
import { materializeRepository } from './snapshotStore.ts';

export interface VerifiedRepository {
  readonly repository: string;
  readonly ok: boolean;
  readonly packs: number;
  readonly problems: readonly string[];
}

export interface SnapshotVerification {
  readonly snapshotId: string;
  readonly ok: boolean;
  readonly repositories: readonly VerifiedRepository[];
}

const sha1 = (data: Buffer): Buffer => createHash('sha1').update(data).digest();

/** Checks a pack's trailer and its index's checksums: the pack's own SHA-1, the index's, and that the index names this pack. */
function checkPackFiles(name: string, pack: Buffer, idx: Buffer): string[] {
  const problems: string[] = [];
  const trailer = pack.subarray(pack.length - 20);
  if (pack.length < 32 || pack.toString('latin1', 0, 4) !== 'PACK') problems.push(`${name}.pack: not a pack file`);
  else if (!sha1(pack.subarray(0, pack.length - 20)).equals(trailer)) problems.push(`${name}.pack: trailer SHA-1 does not match its content`);
  if (idx.length < 48 || !sha1(idx.subarray(0, idx.length - 20)).equals(idx.subarray(idx.length - 20))) problems.push(`${name}.idx: checksum does not match its content`);
  else if (!idx.subarray(idx.length - 40, idx.length - 20).equals(trailer)) problems.push(`${name}.idx: indexes another pack`);
  return problems;
}

/**
 * `git-geo backup verify`: restores every repository of a snapshot to scratch space and checks it
 * deeply: each pack's trailer SHA-1 and its index's checksums, `git fsck --full` of the restored
 * repository, and its refs and HEAD equal to the manifest's.
 */
export async function verifySnapshot(options: {
  store: ObjectStore;
  manifest: SnapshotManifest;
  scratch: string;
  repositories?: readonly string[];
  onRepository?: (result: VerifiedRepository) => void;
}): Promise<SnapshotVerification> {
  const only = options.repositories === undefined ? undefined : new Set(options.repositories);
  const results: VerifiedRepository[] = [];
  for (const entry of options.manifest.repositories) {
    if (only !== undefined && !only.has(entry.repository)) continue;
    const work = join(options.scratch, `verify-${options.manifest.id}-${results.length}`);
    const problems: string[] = [];
    try {
      const gitDir = await materializeRepository(options.store, entry, work);
      for (const pack of entry.packs) {
        const base = join(gitDir, 'objects', 'pack', pack.name);
        problems.push(...checkPackFiles(pack.name, await readFile(`${base}.pack`), await readFile(`${base}.idx`)));
      }
      try {
        await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: gitDir });
      } catch (error) {
        problems.push(`git fsck: ${((error as { stderr?: string }).stderr ?? (error as Error).message).trim().slice(0, 500)}`);
      }
      const refs = await listRefs(gitDir);
      const expected = new Map(Object.entries(entry.refs));
      for (const [ref, oid] of expected) if (refs.get(ref) !== oid) problems.push(`${ref}: restored ${refs.get(ref) ?? 'missing'}, manifest ${oid}`);
      for (const ref of refs.keys()) if (ref !== 'HEAD' && !expected.has(ref)) problems.push(`${ref}: not in the manifest`);
      if (entry.head !== undefined && expected.has(entry.head) && refs.get('HEAD') !== entry.head) problems.push(`HEAD: restored ${refs.get('HEAD') ?? 'none'}, manifest ${entry.head}`);
    } catch (error) {
      problems.push((error as Error).message);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    const result = { repository: entry.repository, ok: problems.length === 0, packs: entry.packs.length, problems };
    results.push(result);
    options.onRepository?.(result);
  }
  return { snapshotId: options.manifest.id, ok: results.every((result) => result.ok), repositories: results };
}
