import { LimitExceededError, ValidationError } from '../shared/errors/index.ts';
import { parseObjectLinks } from '../shared/git/objects/parseObjectLinks.ts';
import { selectObjects, type Selection, type ShallowBoundary } from '../shared/git/objects/selectObjects.ts';
import { boundaryByRevList, peelToCommit, relativeDepth } from '../shared/git/objects/shallowBoundary.ts';
import { WalkBudget } from '../shared/git/objects/WalkBudget.ts';
import type { PackSet } from '../shared/git/pack/PackSet.ts';
import { writePackChunks, type PackStats, type WritePackOptions } from '../shared/git/pack/writePack.ts';
import type { RefSnapshot } from '../shared/git/RefSnapshot.ts';
import type { FetchArguments } from './fetchArguments.ts';
import { MAX_WALK_OBJECTS } from './limits.ts';

/** What a fetch needs from the mirror: its refs, and its packs to read objects from (loaded only when needed). */
export interface MirrorContent {
  readonly snapshot: RefSnapshot;
  packs(): Promise<PackSet>;
}

/**
 * Which wants are served, as git's upload-pack settings say:
 * - `advertised`: ref tips (and peeled tags) only, git's protocol v0/v1 default;
 * - `reachable`: commits reachable from a ref too (`uploadpack.allowReachableSHA1InWant`), and
 *   trees and blobs the mirror holds (what a partial clone fetches lazily);
 * - `any`: any object the mirror holds, as upload-pack serves protocol v2.
 */
export type WantPolicy = 'advertised' | 'reachable' | 'any';

/** Whether the wants can be served here, must come from the primary, or are refused as git refuses them. */
export type WantCheck = { readonly kind: 'ok' } | { readonly kind: 'not-held'; readonly oid: string } | { readonly kind: 'not-our-ref'; readonly oid: string };

export interface BuiltPack {
  /** The pack, chunk by chunk as it is written: memory holds one chunk whatever its size. */
  readonly pack: Iterable<Buffer>;
  readonly objects: number;
  readonly shallow: readonly Buffer[];
  readonly unshallow: readonly Buffer[];
  /** Filled in as the pack is written (absent for stored packs sent as they are). */
  readonly stats?: PackStats;
}

const hex = (oid: Buffer): string => oid.toString('hex');

/** Ref tips and the commits annotated tags point at: what a v0 client may want by default. */
function advertisedIds(snapshot: RefSnapshot): Set<string> {
  return new Set<string>([...snapshot.refs.values(), ...snapshot.peeled.values()]);
}

/**
 * One fetch answered from a mirror, for either protocol version: which wants are ours, what
 * the client has in common with us, and the pack (with its shallow boundary) that answers it.
 */
export class MirrorFetch {
  private loaded: PackSet | undefined;
  private selected: Selection | undefined;
  /** Every walk of this request draws on one budget. */
  private readonly budget: WalkBudget;

  constructor(
    private readonly mirror: MirrorContent,
    private readonly args: FetchArguments,
    options: { readonly maxWalkObjects?: number } = {},
  ) {
    this.budget = new WalkBudget(options.maxWalkObjects ?? MAX_WALK_OBJECTS);
  }

  async packs(): Promise<PackSet> {
    this.loaded ??= await this.mirror.packs();
    return this.loaded;
  }

  /** A want this region does not hold goes to the primary; one it holds but may not serve is refused as git refuses it. */
  async checkWants(policy: WantPolicy): Promise<WantCheck> {
    const advertised = advertisedIds(this.mirror.snapshot);
    const others = this.args.wants.filter((oid) => !advertised.has(hex(oid)));
    if (others.length === 0) return { kind: 'ok' };
    const packs = await this.packs();
    const missing = others.find((oid) => !packs.has(oid));
    if (missing !== undefined) return { kind: 'not-held', oid: hex(missing) };
    if (policy === 'any') return { kind: 'ok' };
    if (policy === 'advertised') return { kind: 'not-our-ref', oid: hex(others[0]!) };
    // Trees and blobs (a partial clone's lazy fetch) are served when held: a mirror holds only
    // what its refs led to, and proving a blob reachable would cost a walk of every tree.
    const commits = others.filter((oid) => packs.read(oid).type === 'commit');
    const unreachable = this.unreachableFromRefs(packs, commits);
    return unreachable === undefined ? { kind: 'ok' } : { kind: 'not-our-ref', oid: hex(unreachable) };
  }

  /** The haves the mirror holds, in the order sent. */
  async commons(): Promise<Buffer[]> {
    if (this.args.haves.length === 0) return [];
    const packs = await this.packs();
    return this.args.haves.filter((oid) => packs.has(oid));
  }

  /** Whether the client asked for any kind of deepening (so the answer carries a shallow list). */
  get deepens(): boolean {
    return this.args.depth !== undefined || this.args.deepenSince !== undefined || this.args.deepenNot.length > 0;
  }

  /** The pack that answers the fetch, with the shallow boundary the client must record. */
  async build(options: Pick<WritePackOptions, 'fastCompressionFrom'> = {}): Promise<BuiltPack> {
    const packs = await this.packs();
    if (this.wantsWholeMirror(packs)) return { pack: packs.concatenatedChunks(), objects: packs.objectCount, shallow: [], unshallow: [] };
    const selection = await this.selection();
    const stats: PackStats = { reused: 0, deltas: 0, rewritten: 0 };
    const pack = writePackChunks(packs, selection.objects, { ...(this.args.thinPack ? { thinBases: selection.clientHas } : {}), ofsDelta: this.args.ofsDelta, ...options }, stats);
    return { pack, objects: selection.objects.length, shallow: selection.shallow, unshallow: selection.unshallow, stats };
  }

  /** The shallow boundary alone (protocol v0 sends it before any negotiation). */
  async shallowInfo(): Promise<ShallowBoundary> {
    const { shallow, unshallow } = await this.selection();
    return { shallow, unshallow };
  }

  /** What to send, chosen once per request. */
  private async selection(): Promise<Selection> {
    const packs = await this.packs();
    try {
      this.selected ??= this.select(packs);
    } catch (error) {
      // What git shows the user: the limit, and the ways to fetch that need no walk here.
      if (error instanceof LimitExceededError && this.budget.visited > this.budget.maxObjects) {
        throw new LimitExceededError(`${error.message}: clone with \`git -c fetch.uriProtocols=https\` (whole packs from the bucket), or fetch from the primary`, {
          cause: error,
          data: error.data,
        });
      }
      throw error;
    }
    return this.selected;
  }

  private select(packs: PackSet): Selection {
    const { args } = this;
    let depth = args.depth;
    let boundary: ShallowBoundary | undefined;
    if (depth !== undefined && args.deepenRelative && depth < 0x7fffffff) {
      depth = relativeDepth(packs, this.wantedCommits(packs), args.clientShallows, depth, this.budget);
    }
    if (args.deepenSince !== undefined || args.deepenNot.length > 0) {
      const not = args.deepenNot.map((name) => this.resolveDeepenNot(packs, name));
      boundary = boundaryByRevList(packs, this.wantedCommits(packs), { ...(args.deepenSince === undefined ? {} : { since: args.deepenSince }), not }, args.clientShallows, this.budget);
    }
    return selectObjects(packs, {
      wants: args.wants,
      haves: args.haves,
      clientShallows: args.clientShallows,
      ...(depth === undefined ? {} : { depth }),
      ...(boundary === undefined ? {} : { boundary }),
      ...(args.filter === undefined ? {} : { filter: args.filter }),
      ...(args.includeTag ? { tagsByTarget: this.tagsByTarget() } : {}),
      budget: this.budget,
    });
  }

  private wantedCommits(packs: PackSet): Buffer[] {
    return this.args.wants.map((oid) => peelToCommit(packs, oid)).filter((oid): oid is Buffer => oid !== undefined);
  }

  /** A deepen-not name as upload-pack resolves it: an object id, a full ref name, or a short one (heads, tags, remotes). */
  private resolveDeepenNot(packs: PackSet, name: string): Buffer {
    const { refs } = this.mirror.snapshot;
    const candidates = /^[0-9a-f]{40}$/.test(name) ? [] : [name, `refs/${name}`, `refs/tags/${name}`, `refs/heads/${name}`, `refs/remotes/${name}`];
    const oid = /^[0-9a-f]{40}$/.test(name) ? name : candidates.map((candidate) => refs.get(candidate)).find((found) => found !== undefined);
    const commit = oid === undefined ? undefined : peelToCommit(packs, Buffer.from(oid, 'hex'));
    if (commit === undefined) throw new ValidationError(`git upload-pack: ambiguous deepen-not: ${name.slice(0, 200)}`);
    return commit;
  }

  /**
   * Whether the mirror's packs as one are exactly the right answer: the client has nothing
   * (no haves we hold), wants no depth and no filter, takes OFS deltas, wants every ref the
   * mirror has, and no two packs hold the same object.
   */
  private wantsWholeMirror(packs: PackSet): boolean {
    const { args } = this;
    if (this.deepens || args.filter !== undefined || !args.ofsDelta || args.haves.some((oid) => packs.has(oid))) return false;
    const wanted = new Set(args.wants.map(hex));
    const tips = [...this.mirror.snapshot.refs.values()];
    if (tips.length === 0 || !tips.every((oid) => wanted.has(oid))) return false;
    return !packs.holdsDuplicates();
  }

  /** Annotated tags among the refs, by the id of what each tags. */
  private tagsByTarget(): Map<string, Buffer[]> {
    const { snapshot } = this.mirror;
    const byTarget = new Map<string, Buffer[]>();
    for (const [name, peeled] of snapshot.peeled) {
      const tag = snapshot.refs.get(name);
      if (tag === undefined) continue;
      const tags = byTarget.get(peeled) ?? [];
      tags.push(Buffer.from(tag, 'hex'));
      byTarget.set(peeled, tags);
    }
    return byTarget;
  }

  /** The first of `wants` that no ref leads to (walking commits from the ref tips), or undefined. */
  private unreachableFromRefs(packs: PackSet, wants: readonly Buffer[]): Buffer | undefined {
    const remaining = new Set(wants.map(hex));
    const seen = new Set<string>();
    const pending: Buffer[] = [];
    for (const tip of this.mirror.snapshot.refs.values()) {
      const commit = peelToCommit(packs, Buffer.from(tip, 'hex'));
      if (commit !== undefined) pending.push(commit);
    }
    while (pending.length > 0 && remaining.size > 0) {
      const oid = pending.pop()!;
      const id = hex(oid);
      if (seen.has(id)) continue;
      this.budget.visit();
      seen.add(id);
      remaining.delete(id);
      pending.push(...parseObjectLinks(packs.read(oid)).parents);
    }
    return wants.find((oid) => remaining.has(hex(oid)));
  }
}
