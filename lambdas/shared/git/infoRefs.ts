import { ProtocolError } from '../errors/index.ts';
import { OID_PATTERN } from './refName.ts';
import { sortedRefNames, type RefSnapshot } from './RefSnapshot.ts';

/**
 * `info/refs` as `git update-server-info` writes it for dumb-HTTP clients:
 * `<oid>\t<ref>` per ref, sorted, with `<peeled>\t<ref>^{}` after each annotated tag.
 */
export function formatInfoRefs(snapshot: RefSnapshot): string {
  let text = '';
  for (const name of sortedRefNames(snapshot.refs)) {
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
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const [oid, name, extra] = line.split('\t');
    if (oid === undefined || name === undefined || extra !== undefined || !OID_PATTERN.test(oid)) {
      throw new ProtocolError('info/refs has a malformed line', { data: { line: line.slice(0, 200) } });
    }
    if (name.endsWith('^{}')) peeled.set(name.slice(0, -3), oid);
    else refs.set(name, oid);
  }
  return { head, refs, peeled };
}
