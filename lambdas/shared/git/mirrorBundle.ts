import { createHash } from 'node:crypto';
import type { MirrorRepository } from './MirrorRepository.ts';
import type { BundleNote } from './packsList.ts';
import { sortedRefNames } from './RefSnapshot.ts';

/**
 * A mirror's bundle for `git clone --bundle-uri` (gitformat-bundle): a short text header naming
 * refs, then a pack. Made from one stored pack that is closed over those refs (every object they
 * reach is in it: the pack of a fetch without haves, or a merge of every listed pack), so the
 * header is written and the pack is copied server-side behind it; no pack is read or rebuilt.
 */

/** When a sync writes a bundle. */
export interface BundlePolicy {
  /** Closed packs smaller than this get no bundle (small repositories do not pay for a copy). */
  readonly minPackBytes: number;
}

/** The header of a bundle of `refs` with no prerequisites: v2 for SHA-1, v3 with its object format for SHA-256. */
export function formatBundleHeader(refs: ReadonlyMap<string, string>): Buffer {
  const sha256 = [...refs.values()].some((oid) => oid.length === 64);
  const lines = [sha256 ? '# v3 git bundle\n@object-format=sha256\n' : '# v2 git bundle\n'];
  for (const name of sortedRefNames(refs)) lines.push(`${refs.get(name)!} ${name}\n`);
  lines.push('\n');
  return Buffer.from(lines.join(''), 'utf8');
}

/** Named by its content (header and pack), so a bundle key never changes meaning. */
export function bundleName(header: Buffer, pack: string): string {
  return `bundle-${createHash('sha1').update(header).update(pack).digest('hex')}`;
}

export function bundleKey(mirror: Pick<MirrorRepository, 'key'>, name: string): string {
  return mirror.key(`bundles/${name}.bundle`);
}

/**
 * Writes a bundle of `refs` made of the header and the stored pack `pack`, which must be closed
 * over them. The bundle is complete before anything names it (the caller then publishes the
 * pack list noting it); one that is never noted is deleted by the backup garbage collector.
 */
export async function writeBundle(mirror: MirrorRepository, pack: string, refs: ReadonlyMap<string, string>): Promise<BundleNote> {
  const header = formatBundleHeader(refs);
  const name = bundleName(header, pack);
  await mirror.store.putWithPrefix(bundleKey(mirror, name), header, mirror.key(`objects/pack/${pack}.pack`), { contentType: 'application/x-git-bundle' });
  return { name, pack };
}

/**
 * A bundle list (git config format, `bundle.*`) naming one bundle by URL: what `git clone
 * --bundle-uri=<list URL>` reads (git ≥ 2.39) before it fetches the rest. The URL is quoted, as
 * a pre-signed one may hold characters git's config reader would otherwise take as a comment.
 */
export function formatBundleList(name: string, uri: string): string {
  return `[bundle]\n\tversion = 1\n\tmode = all\n[bundle "${name}"]\n\turi = "${uri.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"\n`;
}

/** The same list as protocol v2 `bundle-uri` answers it: `key=value` lines. */
export function bundleListLines(name: string, uri: string): string[] {
  return ['bundle.version=1', 'bundle.mode=all', `bundle.${name}.uri=${uri}`];
}
