import { createHash } from 'node:crypto';

/**
 * The refs of a repository at one moment: what the primary advertised, or what a mirror holds.
 * `head` is HEAD's symbolic target (refs/heads/main), undefined when HEAD is detached or unknown.
 * `peeled` maps an annotated tag's ref to the object it points at.
 */
export interface RefSnapshot {
  readonly head: string | undefined;
  readonly refs: ReadonlyMap<string, string>;
  readonly peeled: ReadonlyMap<string, string>;
}

export const EMPTY_SNAPSHOT: RefSnapshot = { head: undefined, refs: new Map(), peeled: new Map() };

/** Ref names sorted as git sorts them: by bytes. */
export function sortedRefNames(refs: ReadonlyMap<string, string>): string[] {
  return [...refs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * A stable checksum of HEAD and every ref, comparable between the primary and any region.
 * Peeled values are derived from the refs, so they are left out.
 */
export function refsChecksum(snapshot: RefSnapshot): string {
  const hash = createHash('sha256');
  hash.update(`HEAD ${snapshot.head ?? ''}\n`);
  for (const name of sortedRefNames(snapshot.refs)) hash.update(`${snapshot.refs.get(name)} ${name}\n`);
  return hash.digest('hex');
}

/** True when both snapshots have the same HEAD and the same refs. */
export function sameRefs(a: RefSnapshot, b: RefSnapshot): boolean {
  if (a.head !== b.head || a.refs.size !== b.refs.size) return false;
  for (const [name, oid] of a.refs) if (b.refs.get(name) !== oid) return false;
  return true;
}

/** The snapshot restricted to refs whose names start with one of `prefixes`. */
export function filterRefs(snapshot: RefSnapshot, prefixes: readonly string[]): RefSnapshot {
  const keep = (name: string): boolean => prefixes.some((prefix) => name.startsWith(prefix));
  const refs = new Map([...snapshot.refs].filter(([name]) => keep(name)));
  const peeled = new Map([...snapshot.peeled].filter(([name]) => refs.has(name)));
  return { head: snapshot.head, refs, peeled };
}
