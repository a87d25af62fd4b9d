import { ProtocolError } from '../../errors/index.ts';
import type { GitObject } from '../pack/PackSet.ts';

/** The objects another object points at: a commit's tree and parents, a tree's entries, a tag's target. */
export interface ObjectLinks {
  /** Commit: its tree. */
  readonly tree?: Buffer;
  /** Commit: its parents, in order. */
  readonly parents: readonly Buffer[];
  /** Tree: the ids of its entries, except submodules (commits of another repository). */
  readonly entries: readonly Buffer[];
  /** Tree: beside each entry, whether it is a tree (else a blob), for filters that leave some out. */
  readonly entryIsTree?: readonly boolean[];
  /** Tag: the object it tags. */
  readonly target?: Buffer;
}

const NONE: readonly Buffer[] = [];
const SUBMODULE_MODE = '160000';
const TREE_MODE = '40000';

function headerOid(line: string, name: string): Buffer {
  const hex = line.slice(name.length + 1);
  if (!/^[0-9a-f]{40}$/.test(hex)) throw new ProtocolError(`malformed ${name} line in an object`, { data: { line: line.slice(0, 80) } });
  return Buffer.from(hex, 'hex');
}

/** Reads the links out of a commit, tree or tag (a blob has none). */
export function parseObjectLinks(object: GitObject): ObjectLinks {
  switch (object.type) {
    case 'blob':
      return { parents: NONE, entries: NONE };
    case 'tree': {
      const entries: Buffer[] = [];
      const entryIsTree: boolean[] = [];
      const data = object.data;
      let position = 0;
      while (position < data.length) {
        const space = data.indexOf(0x20, position);
        const nul = space < 0 ? -1 : data.indexOf(0, space);
        if (space < 0 || nul < 0 || nul + 21 > data.length) throw new ProtocolError('malformed tree entry', { data: { offset: position } });
        const mode = data.toString('latin1', position, space);
        if (mode !== SUBMODULE_MODE) {
          entries.push(data.subarray(nul + 1, nul + 21));
          entryIsTree.push(mode === TREE_MODE);
        }
        position = nul + 21;
      }
      return { parents: NONE, entries, entryIsTree };
    }
    case 'commit':
    case 'tag': {
      const end = object.data.indexOf('\n\n');
      const lines = object.data.toString('latin1', 0, end < 0 ? object.data.length : end).split('\n');
      if (object.type === 'tag') {
        const line = lines.find((candidate) => candidate.startsWith('object '));
        if (line === undefined) throw new ProtocolError('tag without an object line');
        return { parents: NONE, entries: NONE, target: headerOid(line, 'object') };
      }
      const treeLine = lines[0];
      if (treeLine === undefined || !treeLine.startsWith('tree ')) throw new ProtocolError('commit without a tree line');
      const parents = lines.filter((line) => line.startsWith('parent ')).map((line) => headerOid(line, 'parent'));
      return { tree: headerOid(treeLine, 'tree'), parents, entries: NONE };
    }
  }
}
