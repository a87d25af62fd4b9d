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

/** Names with a character outside the Basic Multilingual Plane (a UTF-16 surrogate pair). */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * Ref names sorted as git sorts them: by bytes. Without surrogate pairs, JavaScript's own order (by
 * UTF-16 code units) is the order of code points, which is UTF-8's byte order: no encoding at all.
 * Otherwise each name is encoded once (not once per comparison: 100,000 refs made 3.4 million buffers).
 */
export function sortedRefNames(refs: ReadonlyMap<string, string>): string[] {
  const names = [...refs.keys()];
  if (!names.some((name) => SURROGATE.test(name))) return names.sort();
  const encoded = new Map(names.map((name) => [name, Buffer.from(name, 'utf8')]));
  return names.sort((a, b) => Buffer.compare(encoded.get(a)!, encoded.get(b)!));
}

/**
 * A stable checksum of HEAD and every ref, comparable between the primary and any region.
 * Peeled values are derived from the refs, so they are left out.
 */
export function refsChecksum(snapshot: RefSnapshot): string {
  // One update of the whole text: a native call per ref costs more than the hashing.
  const lines = sortedRefNames(snapshot.refs).map((name) => `${snapshot.refs.get(name)} ${name}\n`);
  return createHash('sha256').update(`HEAD ${snapshot.head ?? ''}\n${lines.join('')}`).digest('hex');
}

/** True when both snapshots have the same HEAD and the same refs. */
export function sameRefs(a: RefSnapshot, b: RefSnapshot): boolean {
  return a.head === b.head && sameEntries(a.refs, b.refs);
}

/** True when both maps hold the same names with the same values. */
export function sameEntries(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, value] of a) if (b.get(name) !== value) return false;
  return true;
}

/** The snapshot restricted to refs whose names start with one of `prefixes`. */
export function filterRefs(snapshot: RefSnapshot, prefixes: readonly string[]): RefSnapshot {
  const keep = (name: string): boolean => prefixes.some((prefix) => name.startsWith(prefix));
  let all = true;
  for (const name of snapshot.refs.keys()) if (!keep(name)) all = false;
  for (const name of snapshot.peeled.keys()) if (!snapshot.refs.has(name)) all = false;
  // Usually every ref is in the namespaces (the primary was asked for those only): nothing to copy.
  if (all) return snapshot;
  const refs = new Map([...snapshot.refs].filter(([name]) => keep(name)));
  const peeled = new Map([...snapshot.peeled].filter(([name]) => refs.has(name)));
  return { head: snapshot.head, refs, peeled };
}
