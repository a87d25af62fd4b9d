import type { PackSet } from '../pack/PackSet.ts';
import { parseObjectLinks } from './parseObjectLinks.ts';
import { UNLIMITED_WALK, type Budget } from './WalkBudget.ts';

export interface SelectionRequest {
  /** What the client asked for: ref tips (commits, or tags of anything). */
  readonly wants: readonly Buffer[];
  /** Objects the client says it has; only those the packs hold count. */
  readonly haves: readonly Buffer[];
  /** The client's shallow commits: it has them, but not their parents. */
  readonly clientShallows: readonly Buffer[];
  /** `deepen N`: at most N commits deep from each want. */
  readonly depth?: number;
  /** Tags whose target is sent are sent too (`include-tag`): annotated tag ids by the id of what they tag. */
  readonly tagsByTarget?: ReadonlyMap<string, readonly Buffer[]>;
  /**
   * A shallow boundary decided beforehand (deepen-since, deepen-not, deepen-relative): the walk
   * sends commits down to the `shallow` ones and not past them, and the parents of `unshallow`.
   */
  readonly boundary?: ShallowBoundary;
  /** Partial clone: trees and blobs left out (objects wanted by id are always sent). */
  readonly filter?: ObjectFilter;
  /** Counts every object the walk takes, and stops it past its limit. @default no limit */
  readonly budget?: Budget;
}

/** A new shallow boundary: commits sent without their parents, and client shallow commits whose parents are now sent. */
export interface ShallowBoundary {
  readonly shallow: readonly Buffer[];
  readonly unshallow: readonly Buffer[];
}

/** `blob:limit=n`: blobs of n bytes or more are left out (`blob:none` is a limit of 0); `tree:d`: trees and blobs d deep or deeper (a root tree is 0 deep). */
export type ObjectFilter = { readonly kind: 'blob:limit'; readonly bytes: number } | { readonly kind: 'tree'; readonly depth: number };

export interface Selection {
  /** Objects to send, commits first (newest first), then trees and blobs, then tags. */
  readonly objects: readonly Buffer[];
  /** The haves the packs hold. */
  readonly commons: readonly Buffer[];
  /** Sent commits whose parents are not sent (a shallow boundary). */
  readonly shallow: readonly Buffer[];
  /** The client's shallow commits whose parents are now sent. */
  readonly unshallow: readonly Buffer[];
  /** Objects the client has (reachable from the commons), usable as bases of a thin pack. */
  readonly clientHas: ReadonlySet<string>;
}

const hex = (oid: Buffer): string => oid.toString('hex');
/** What `git fetch --unshallow` asks for: `deepen 2147483647`. */
const INFINITE_DEPTH = 0x7fffffff;

/**
 * Chooses what a fetch must send, as `git rev-list --objects wants --not haves` does: the
 * commits reachable from the wants and not from the client's commons (or, for a shallow fetch,
 * those within the depth), the trees and blobs of those commits that the boundary commits do not
 * already hold, and the tags asked for or pointing at what is sent.
 */
export function selectObjects(packs: PackSet, request: SelectionRequest): Selection {
  const clientShallow = new Set(request.clientShallows.map(hex));
  const commons = request.haves.filter((oid) => packs.has(oid));
  const budget = request.budget ?? UNLIMITED_WALK;

  const had = new Set<string>();
  const hadRoots: Buffer[] = [];
  const hadCommits: Buffer[] = [];
  for (const oid of commons) {
    const target = peel(packs, oid, []);
    (target.isCommit ? hadCommits : hadRoots).push(target.oid);
  }

  const commits: Buffer[] = [];
  const sentCommits = new Set<string>();
  const shallow: Buffer[] = [];
  const unshallow: Buffer[] = [];
  const boundary = new Map<string, Buffer>();
  const tags: Buffer[] = [];
  const roots: Buffer[] = [];
  const wantedCommits: Buffer[] = [];
  for (const want of request.wants) {
    const target = peel(packs, want, tags);
    (target.isCommit ? wantedCommits : roots).push(target.oid);
  }
  // Trees and blobs named by a want are sent whatever the filter (a partial clone's lazy fetch).
  const explicit = new Set(roots.map(hex));

  const boundaryShallow = new Set((request.boundary?.shallow ?? []).map(hex));
  if (request.depth === undefined) {
    // rev-list wants --not commons: newest first, until only commits the client has are left.
    const queue = new CommitQueue(packs);
    for (const oid of hadCommits) queue.add(oid, true);
    for (const oid of wantedCommits) queue.add(oid, false);
    // The client has an unshallowed commit, not yet its parents.
    for (const oid of request.boundary?.unshallow ?? []) for (const parent of parseObjectLinks(packs.read(oid)).parents) queue.add(parent, false);
    while (queue.hasInteresting()) {
      const { oid, id, uninteresting, commit } = queue.pop();
      budget.visit();
      if (uninteresting) {
        if (had.has(id)) continue;
        had.add(id);
        // The client has a shallow commit's tree but not its parents.
        if (!clientShallow.has(id)) for (const parent of commit.parents) queue.add(parent, true);
        continue;
      }
      if (had.has(id)) {
        boundary.set(id, oid);
        continue;
      }
      if (sentCommits.has(id)) continue;
      sentCommits.add(id);
      commits.push(oid);
      roots.push(commit.tree!);
      if (!boundaryShallow.has(id)) for (const parent of commit.parents) queue.add(parent, false);
    }
    if (request.boundary !== undefined) {
      shallow.push(...request.boundary.shallow);
      unshallow.push(...request.boundary.unshallow);
    }
  }

  const queue: { oid: Buffer; depth: number }[] = request.depth === undefined ? [] : wantedCommits.map((oid) => ({ oid, depth: 1 }));
  const unshallowed = new Set<string>();
  if (request.depth !== undefined && request.depth >= INFINITE_DEPTH) {
    // --unshallow: every shallow commit of the client gets its history, whatever the wants.
    for (const oid of request.clientShallows) {
      if (!packs.has(oid)) continue;
      const object = packs.read(oid);
      const parents = object.type === 'commit' ? parseObjectLinks(object).parents : [];
      if (parents.length === 0) continue;
      unshallowed.add(hex(oid));
      unshallow.push(oid);
      for (const parent of parents) queue.push({ oid: parent, depth: 2 });
    }
  }
  // A shallow fetch: breadth first from the wants to the depth; what the client has does not matter.
  for (let next = 0; next < queue.length; next++) {
    const { oid, depth } = queue[next]!;
    const id = hex(oid);
    // Breadth first: the first visit of a commit is at its smallest depth.
    if (sentCommits.has(id)) continue;
    budget.visit();
    sentCommits.add(id);
    commits.push(oid);
    const links = parseObjectLinks(packs.read(oid));
    roots.push(links.tree!);
    if (request.depth !== undefined && depth >= request.depth) {
      if (links.parents.length > 0) shallow.push(oid);
      continue;
    }
    if (clientShallow.has(id) && links.parents.length > 0 && !unshallowed.has(id)) {
      unshallowed.add(id);
      unshallow.push(oid);
    }
    for (const parent of links.parents) queue.push({ oid: parent, depth: depth + 1 });
  }

  // Trees and blobs of the boundary commits (and whole trees the client has): not sent.
  const clientHas = new Set<string>(had);
  // Blobs are marked by their tree entry, never read (as git's mark_tree_uninteresting): only trees are inflated.
  const markHad = (tree: Buffer): void => {
    const pending: { oid: Buffer; isTree: boolean | undefined }[] = [{ oid: tree, isTree: undefined }];
    while (pending.length > 0) {
      const { oid, isTree } = pending.pop()!;
      const id = hex(oid);
      if (clientHas.has(id) || !packs.has(oid)) continue;
      budget.visit();
      clientHas.add(id);
      if (isTree === false) continue;
      const object = packs.read(oid);
      if (object.type !== 'tree') continue;
      const { entries, entryIsTree } = parseObjectLinks(object);
      entries.forEach((entry, index) => pending.push({ oid: entry, isTree: entryIsTree?.[index] }));
    }
  };
  for (const oid of boundary.values()) markHad(parseObjectLinks(packs.read(oid)).tree!);
  for (const oid of hadRoots) markHad(oid);

  const others: Buffer[] = [];
  const sent = new Set<string>(sentCommits);
  const { filter } = request;
  const pending: { oid: Buffer; depth: number; isTree: boolean | undefined }[] = roots.map((oid) => ({ oid, depth: 0, isTree: undefined })).reverse();
  while (pending.length > 0) {
    const { oid, depth, isTree } = pending.pop()!;
    const id = hex(oid);
    if (sent.has(id) || clientHas.has(id)) continue;
    budget.visit();
    if (filter !== undefined && !explicit.has(id) && leftOut(packs, oid, depth, isTree, filter)) continue;
    sent.add(id);
    others.push(oid);
    if (isTree === false) continue;
    const object = packs.read(oid);
    if (object.type === 'tree') {
      const { entries, entryIsTree } = parseObjectLinks(object);
      for (let index = entries.length - 1; index >= 0; index--) pending.push({ oid: entries[index]!, depth: depth + 1, isTree: entryIsTree?.[index] });
    }
  }

  const tagObjects: Buffer[] = [];
  // A tag of a tag needs the inner one too.
  const addTag = (tag: Buffer): void => {
    for (let current = tag, hops = 0; hops < 32; hops++) {
      const id = hex(current);
      if (sent.has(id) || clientHas.has(id)) return;
      const object = packs.read(current);
      if (object.type !== 'tag') return;
      sent.add(id);
      tagObjects.push(current);
      current = parseObjectLinks(object).target!;
    }
  };
  tags.forEach(addTag);
  // include-tag: annotated tags of anything sent, tags of those tags too.
  for (let grew = request.tagsByTarget !== undefined; grew; ) {
    const before = tagObjects.length;
    for (const [target, tagOids] of request.tagsByTarget!) if (sent.has(target)) tagOids.forEach(addTag);
    grew = tagObjects.length > before;
  }

  return { objects: [...commits, ...others, ...tagObjects], commons, shallow, unshallow, clientHas };
}

/** Whether a filter leaves a tree or blob out; `isTree` undefined for a root (a commit's tree, or a tag's target). */
function leftOut(packs: PackSet, oid: Buffer, depth: number, isTree: boolean | undefined, filter: ObjectFilter): boolean {
  if (filter.kind === 'tree') return depth >= filter.depth;
  const tree = isTree ?? packs.read(oid).type === 'tree';
  if (tree) return false;
  if (filter.bytes === 0) return true;
  const location = packs.locate(oid);
  const whole = location !== undefined && location.header.baseOffset === undefined && location.header.baseOid === undefined;
  const size = whole ? location.header.size : packs.read(oid).data.length;
  return size >= filter.bytes;
}

/** Follows tags down to what they tag (and says whether that is a commit), adding the tags passed through to `tags`. */
function peel(packs: PackSet, oid: Buffer, tags: Buffer[]): { oid: Buffer; isCommit: boolean } {
  let current = oid;
  for (let hops = 0; hops < 32; hops++) {
    const object = packs.read(current);
    if (object.type !== 'tag') return { oid: current, isCommit: object.type === 'commit' };
    tags.push(current);
    current = parseObjectLinks(object).target!;
  }
  return { oid: current, isCommit: packs.read(current).type === 'commit' };
}

/** A commit's date, parents and tree, read once. */
interface CommitInfo {
  readonly time: number;
  readonly tree: Buffer | undefined;
  readonly parents: readonly Buffer[];
}

interface QueuedCommit {
  readonly oid: Buffer;
  readonly id: string;
  readonly uninteresting: boolean;
  readonly commit: CommitInfo;
  readonly order: number;
}

/** Commits by committer date, newest first, as git's revision walk takes them. */
class CommitQueue {
  private readonly heap: QueuedCommit[] = [];
  private readonly infos = new Map<string, CommitInfo>();
  private interesting = 0;
  private added = 0;

  constructor(private readonly packs: PackSet) {}

  add(oid: Buffer, uninteresting: boolean): void {
    const id = hex(oid);
    let commit = this.infos.get(id);
    if (commit === undefined) {
      const object = this.packs.read(oid);
      if (object.type !== 'commit') return;
      const links = parseObjectLinks(object);
      commit = { time: committerTime(object.data), tree: links.tree, parents: links.parents };
      this.infos.set(id, commit);
    }
    if (!uninteresting) this.interesting++;
    this.heap.push({ oid, id, uninteresting, commit, order: this.added++ });
    let index = this.heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(this.heap[index]!, this.heap[parent]!)) break;
      [this.heap[index], this.heap[parent]] = [this.heap[parent]!, this.heap[index]!];
      index = parent;
    }
  }

  hasInteresting(): boolean {
    return this.interesting > 0;
  }

  pop(): QueuedCommit {
    const top = this.heap[0]!;
    const last = this.heap.pop()!;
    if (this.heap.length > 0) {
      this.heap[0] = last;
      let index = 0;
      for (;;) {
        const left = index * 2 + 1;
        const right = left + 1;
        let best = index;
        if (left < this.heap.length && this.before(this.heap[left]!, this.heap[best]!)) best = left;
        if (right < this.heap.length && this.before(this.heap[right]!, this.heap[best]!)) best = right;
        if (best === index) break;
        [this.heap[index], this.heap[best]] = [this.heap[best]!, this.heap[index]!];
        index = best;
      }
    }
    if (!top.uninteresting) this.interesting--;
    return top;
  }

  /** Newer first; at the same second, uninteresting first (so a shared commit is known as had), then in order added. */
  private before(a: QueuedCommit, b: QueuedCommit): boolean {
    if (a.commit.time !== b.commit.time) return a.commit.time > b.commit.time;
    if (a.uninteresting !== b.uninteresting) return a.uninteresting;
    return a.order < b.order;
  }
}

/** The committer's timestamp (seconds), or 0 when the line is missing or malformed. */
export function committerTime(data: Buffer): number {
  const end = data.indexOf('\n\n');
  const header = data.toString('latin1', 0, end < 0 ? data.length : end);
  const match = /^committer .* (\d+) [+-]\d{4}$/m.exec(header);
  return match === null ? 0 : Number(match[1]);
}
