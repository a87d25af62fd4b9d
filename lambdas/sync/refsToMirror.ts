import { MAX_STORED_TIPS } from '../shared/git/packsList.ts';
import { printableRefName, refNameProblem, type RefusedRef } from '../shared/git/protocolV2.ts';
import type { RefSnapshot } from '../shared/git/RefSnapshot.ts';

/**
 * The refs a mirror may hold: names git itself would accept (`git check-ref-format`). A name with
 * a newline would inject a line into `info/refs` or `packed-refs`; one with a tab would make
 * `info/refs` unreadable. Such refs are refused (and reported), never stored; the rest sync.
 * Discovery refuses most already; this also covers the engine that discovers through isomorphic-git.
 */
export function acceptRefs(snapshot: RefSnapshot, refusedEarlier: readonly RefusedRef[] = []): { snapshot: RefSnapshot; refused: RefusedRef[] } {
  const refused = [...refusedEarlier];
  const refs = new Map<string, string>();
  for (const [name, oid] of snapshot.refs) {
    const problem = refNameProblem(name);
    if (problem === undefined) refs.set(name, oid);
    else refused.push({ name: printableRefName(name), reason: problem });
  }
  const peeled = new Map([...snapshot.peeled].filter(([name]) => refs.has(name)));
  let head = snapshot.head;
  if (head !== undefined && refNameProblem(head) !== undefined) {
    refused.push({ name: `HEAD -> ${printableRefName(head)}`, reason: 'not a valid ref name (git check-ref-format)' });
    head = undefined;
  }
  return { snapshot: { head, refs, peeled }, refused };
}

/**
 * The tips noted with a newly stored pack (see PackListNotes): the objects it was fetched for,
 * HEAD's branch and other branches first, at most MAX_STORED_TIPS (any subset is a valid set of haves).
 */
export function tipsWorthStoring(target: RefSnapshot, fetched: readonly string[]): string[] {
  const wanted = new Set(fetched);
  const rank = (name: string): number => (name === target.head ? 0 : name.startsWith('refs/heads/') ? 1 : 2);
  const names = [...target.refs.keys()].filter((name) => wanted.has(target.refs.get(name)!)).sort((a, b) => rank(a) - rank(b));
  return [...new Set(names.map((name) => target.refs.get(name)!))].slice(0, MAX_STORED_TIPS);
}
