import { createHash } from 'node:crypto';
import type { MirrorState } from '../shared/git/MirrorRepository.ts';
import { refsChecksum } from '../shared/git/RefSnapshot.ts';

/** Fetch arguments that change nothing in the pack: progress, and whether negotiation is over. */
const IRRELEVANT_TO_THE_PACK = new Set(['no-progress', 'done']);

const stateDigests = new WeakMap<MirrorState, string>();

/**
 * A digest of what a built pack may depend on besides the request: the repository, its stored
 * packs (the objects it holds), and its refs (`include-tag` adds the tags that point into the
 * pack; `deepen-not` names refs; peeled values follow from the refs). Each state read from
 * the bucket is digested once.
 */
export function mirrorStateDigest(repository: string, state: MirrorState): string {
  let digest = stateDigests.get(state);
  if (digest === undefined) {
    const packs = [...state.packs].sort().join('\n');
    digest = createHash('sha256').update(`git-geo mirror state 1\0${repository}\0${packs}\0${refsChecksum(state.snapshot)}`).digest('hex');
    stateDigests.set(state, digest);
  }
  return digest;
}

/**
 * The key a built pack is stored and found under: the mirror's state and the fetch's arguments
 * in a canonical order (wants, haves, shallows, deepen, filter, thin-pack, include-tag…). Two
 * requests with one key get the same objects, so one pack answers both.
 */
export function packReuseKey(stateDigest: string, fetchArguments: readonly string[]): string {
  const lines = fetchArguments.filter((line) => !IRRELEVANT_TO_THE_PACK.has(line));
  return createHash('sha256')
    .update(`git-geo pack reuse 1\0${stateDigest}\0`)
    .update([...new Set(lines)].sort().join('\n'))
    .digest('hex');
}
