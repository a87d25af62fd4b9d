import { ValidationError } from '../../errors/index.ts';
import type { PackSet } from '../pack/PackSet.ts';
import { parseObjectLinks } from './parseObjectLinks.ts';
import { committerTime, type ShallowBoundary } from './selectObjects.ts';
import { UNLIMITED_WALK, type Budget } from './WalkBudget.ts';

const hex = (oid: Buffer): string => oid.toString('hex');

/** Follows tags to a commit; undefined when the object is not (or does not lead to) a commit. */
export function peelToCommit(packs: PackSet, oid: Buffer): Buffer | undefined {
  let current = oid;
  for (let hops = 0; hops < 32; hops++) {
    if (!packs.has(current)) return undefined;
    const object = packs.read(current);
    if (object.type === 'commit') return current;
    if (object.type !== 'tag') return undefined;
    current = parseObjectLinks(object).target!;
  }
  return undefined;
}

export interface RevListLimits {
  /** deepen-since: commits older than this (seconds) are left out, and what is behind them. */
  readonly since?: number;
  /** deepen-not: commits reachable from these are left out. */
  readonly not: readonly Buffer[];
}

/**
 * The shallow boundary of `deepen-since` / `deepen-not`, as git's upload-pack computes it with
 * `rev-list --max-age=<since> wants --not <refs>`: the commits kept are those reachable from the
 * wants through commits that are new enough and not reachable from the excluded refs; a kept
 * commit with a parent not kept is shallow; a client shallow commit that is kept and not shallow
 * is unshallowed.
 */
export function boundaryByRevList(packs: PackSet, wants: readonly Buffer[], limits: RevListLimits, clientShallows: readonly Buffer[], budget: Budget = UNLIMITED_WALK): ShallowBoundary {
  const parentsOf = (oid: Buffer): readonly Buffer[] => parseObjectLinks(packs.read(oid)).parents;
  const excluded = new Set<string>();
  for (const pending = [...limits.not]; pending.length > 0; ) {
    const oid = pending.pop()!;
    const id = hex(oid);
    if (excluded.has(id) || !packs.has(oid)) continue;
    budget.visit();
    excluded.add(id);
    pending.push(...parentsOf(oid));
  }
  const kept = new Map<string, Buffer>();
  for (const pending = [...wants]; pending.length > 0; ) {
    const oid = pending.pop()!;
    const id = hex(oid);
    if (kept.has(id) || excluded.has(id) || !packs.has(oid)) continue;
    budget.visit();
    const object = packs.read(oid);
    if (limits.since !== undefined && committerTime(object.data) < limits.since) continue;
    kept.set(id, oid);
    pending.push(...parseObjectLinks(object).parents);
  }
  if (kept.size === 0) throw new ValidationError('no commits selected for shallow requests');
  const shallow: Buffer[] = [];
  const shallowIds = new Set<string>();
  for (const [id, oid] of kept) {
    if (parentsOf(oid).some((parent) => !kept.has(hex(parent)))) {
      shallow.push(oid);
      shallowIds.add(id);
    }
  }
  const unshallow = clientShallows.filter((oid) => kept.has(hex(oid)) && !shallowIds.has(hex(oid)) && parentsOf(oid).length > 0);
  return { shallow, unshallow };
}

/**
 * `deepen-relative N`: N more commits below the client's current boundary, which git computes
 * as a depth of N plus the depth (from the wants, 1-based) of the nearest client shallow commit.
 */
export function relativeDepth(packs: PackSet, wants: readonly Buffer[], clientShallows: readonly Buffer[], depth: number, budget: Budget = UNLIMITED_WALK): number {
  const shallows = new Set(clientShallows.map(hex));
  if (shallows.size === 0) return depth;
  const seen = new Set<string>();
  let level = wants.filter((oid) => packs.has(oid));
  for (let current = 1; level.length > 0; current++) {
    const next: Buffer[] = [];
    for (const oid of level) {
      const id = hex(oid);
      if (seen.has(id)) continue;
      budget.visit();
      seen.add(id);
      if (shallows.has(id)) return depth + current;
      next.push(...parseObjectLinks(packs.read(oid)).parents);
    }
    level = next;
  }
  return depth;
}
