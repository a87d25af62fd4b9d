import { ProtocolError } from '../errors/index.ts';
import { OID_PATTERN } from './refName.ts';
import { sortedRefNames, type RefSnapshot } from './RefSnapshot.ts';

/**
 * `info/refs` as `git update-server-info` writes it for dumb-HTTP clients:
 * `<oid>\t<ref>` per ref, sorted, with `<peeled>\t<ref>^{}` after each annotated tag.
 */
export function formatInfoRefs(snapshot: RefSnapshot, names: readonly string[] = sortedRefNames(snapshot.refs)): string {
  let text = '';
  for (const name of names) {
    text += `${snapshot.refs.get(name)}\t${name}\n`;
    const peeled = snapshot.peeled.get(name);
    if (peeled !== undefined) text += `${peeled}\t${name}^{}\n`;
  }
  return text;
}

/** Parses `info/refs`; HEAD is not in it, so the caller supplies it. */
export function parseInfoRefs(text: string, head: string | undefined): RefSnapshot {
  const refs = new Map<string, string>();
  const peeled = new Map<string, string>();
  // By offsets, not split(): a mirror of 100,000 refs would make 300,000 strings and arrays more.
  for (let start = 0; start < text.length; ) {
    const newline = text.indexOf('\n', start);
    const end = newline < 0 ? text.length : newline;
    if (end > start) {
      const tab = text.indexOf('\t', start);
      const oid = tab < 0 || tab > end ? undefined : text.slice(start, tab);
      const name = oid === undefined ? '' : text.slice(tab + 1, end);
      if (oid === undefined || !OID_PATTERN.test(oid) || name.includes('\t')) {
        throw new ProtocolError('info/refs has a malformed line', { data: { line: text.slice(start, Math.min(end, start + 200)) } });
      }
      if (name.endsWith('^{}')) peeled.set(name.slice(0, -3), oid);
      else refs.set(name, oid);
    }
    start = end + 1;
  }
  return { head, refs, peeled };
}
