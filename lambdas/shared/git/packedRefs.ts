import { sortedRefNames, type RefSnapshot } from './RefSnapshot.ts';

/** `packed-refs` in git's own format, with peeled tags, so a copy of the mirror is a working bare repository. */
export function formatPackedRefs(snapshot: RefSnapshot, names: readonly string[] = sortedRefNames(snapshot.refs)): string {
  let text = '# pack-refs with: peeled fully-peeled sorted \n';
  for (const name of names) {
    text += `${snapshot.refs.get(name)} ${name}\n`;
    const peeled = snapshot.peeled.get(name);
    if (peeled !== undefined) text += `^${peeled}\n`;
  }
  return text;
}
