import { describe, expect, it } from '@jest/globals';
import { EMPTY_SNAPSHOT, filterRefs, refsChecksum, sameRefs, sortedRefNames, type RefSnapshot } from '../../lambdas/shared/git/RefSnapshot.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);

/** `head` null means detached or unknown (undefined in the snapshot); omitted means refs/heads/main. */
function snapshot(entries: [string, string][], head: string | null = 'refs/heads/main', peeled: [string, string][] = []): RefSnapshot {
  return { head: head ?? undefined, refs: new Map(entries), peeled: new Map(peeled) };
}

const BASE: [string, string][] = [
  ['refs/heads/main', A],
  ['refs/heads/dev', B],
  ['refs/tags/v1', C],
  ['refs/merge-requests/1/head', B],
];

describe('sortedRefNames', () => {
  it('sorts by UTF-8 bytes', () => {
    const refs = new Map([
      ['refs/heads/\u{1f600}', A],
      ['refs/heads/\uff5e', A],
      ['refs/heads/b', A],
      ['refs/heads/B', A],
    ]);
    expect(sortedRefNames(refs)).toEqual(['refs/heads/B', 'refs/heads/b', 'refs/heads/\uff5e', 'refs/heads/\u{1f600}']);
  });

  it('sorts names without surrogate pairs (the fast path) by UTF-8 bytes too', () => {
    const names = ['refs/heads/\uff5e', 'refs/heads/\u00e9', 'refs/heads/z', 'refs/heads/Z', 'refs/heads/\u0800', 'refs/heads/a/b', 'refs/heads/a-b'];
    const byBytes = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect(sortedRefNames(new Map(names.map((name) => [name, A])))).toEqual(byBytes);
  });
});

describe('refsChecksum', () => {
  it('is a sha256 hex digest', () => {
    expect(refsChecksum(snapshot(BASE))).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not depend on insertion order', () => {
    expect(refsChecksum(snapshot([...BASE].reverse()))).toBe(refsChecksum(snapshot(BASE)));
    expect(refsChecksum(snapshot([BASE[2]!, BASE[0]!, BASE[3]!, BASE[1]!]))).toBe(refsChecksum(snapshot(BASE)));
  });

  it('ignores peeled values, which are derived from the refs', () => {
    expect(refsChecksum(snapshot(BASE, 'refs/heads/main', [['refs/tags/v1', A]]))).toBe(refsChecksum(snapshot(BASE)));
  });

  it('changes when HEAD changes, including to detached/unknown', () => {
    const base = refsChecksum(snapshot(BASE));
    expect(refsChecksum(snapshot(BASE, 'refs/heads/dev'))).not.toBe(base);
    expect(refsChecksum(snapshot(BASE, null))).not.toBe(base);
  });

  it('changes when a ref moves, appears, disappears or is renamed', () => {
    const base = refsChecksum(snapshot(BASE));
    expect(refsChecksum(snapshot([['refs/heads/main', B], ...BASE.slice(1)]))).not.toBe(base);
    expect(refsChecksum(snapshot([...BASE, ['refs/heads/new', A]]))).not.toBe(base);
    expect(refsChecksum(snapshot(BASE.slice(1)))).not.toBe(base);
    expect(refsChecksum(snapshot([['refs/heads/main2', A], ...BASE.slice(1)]))).not.toBe(base);
  });

  it('changes when two refs swap their object ids', () => {
    const one = snapshot([['refs/heads/a', A], ['refs/heads/b', B]]);
    const two = snapshot([['refs/heads/a', B], ['refs/heads/b', A]]);
    expect(refsChecksum(one)).not.toBe(refsChecksum(two));
  });

  it('distinguishes the empty snapshot from one with a HEAD', () => {
    expect(refsChecksum(EMPTY_SNAPSHOT)).not.toBe(refsChecksum(snapshot([], 'refs/heads/main')));
  });
});

describe('sameRefs', () => {
  it('is true for equal snapshots built in different orders', () => {
    expect(sameRefs(snapshot(BASE), snapshot([...BASE].reverse()))).toBe(true);
    expect(sameRefs(EMPTY_SNAPSHOT, snapshot([], null))).toBe(true);
  });

  it('ignores peeled values', () => {
    expect(sameRefs(snapshot(BASE, 'refs/heads/main', [['refs/tags/v1', A]]), snapshot(BASE))).toBe(true);
  });

  it('is false when HEAD differs', () => {
    expect(sameRefs(snapshot(BASE), snapshot(BASE, 'refs/heads/dev'))).toBe(false);
    expect(sameRefs(snapshot(BASE), snapshot(BASE, null))).toBe(false);
  });

  it('is false when a ref differs, in either direction', () => {
    const moved = snapshot([['refs/heads/main', C], ...BASE.slice(1)]);
    expect(sameRefs(snapshot(BASE), moved)).toBe(false);
    expect(sameRefs(snapshot(BASE), snapshot(BASE.slice(1)))).toBe(false);
    expect(sameRefs(snapshot(BASE.slice(1)), snapshot(BASE))).toBe(false);
    const renamed = snapshot([['refs/heads/other', A], ...BASE.slice(1)]);
    expect(sameRefs(snapshot(BASE), renamed)).toBe(false);
    expect(sameRefs(renamed, snapshot(BASE))).toBe(false);
  });

  it('agrees with refsChecksum', () => {
    const variants = [snapshot(BASE), snapshot([...BASE].reverse()), snapshot(BASE.slice(1)), snapshot(BASE, null)];
    for (const a of variants) {
      for (const b of variants) expect(sameRefs(a, b)).toBe(refsChecksum(a) === refsChecksum(b));
    }
  });
});

describe('filterRefs', () => {
  it('keeps only refs under the given prefixes, with their peeled values, and keeps HEAD', () => {
    const filtered = filterRefs(snapshot(BASE, 'refs/heads/main', [['refs/tags/v1', A]]), ['refs/heads/', 'refs/tags/']);
    expect([...filtered.refs.keys()].sort()).toEqual(['refs/heads/dev', 'refs/heads/main', 'refs/tags/v1']);
    expect(filtered.refs.get('refs/heads/dev')).toBe(B);
    expect(filtered.peeled.get('refs/tags/v1')).toBe(A);
    expect(filtered.head).toBe('refs/heads/main');
  });

  it('drops peeled values of refs it drops', () => {
    const filtered = filterRefs(snapshot(BASE, 'refs/heads/main', [['refs/tags/v1', A]]), ['refs/heads/']);
    expect(filtered.peeled.size).toBe(0);
    expect(filtered.refs.has('refs/tags/v1')).toBe(false);
  });

  it('matches by prefix, so refs/heads/ does not match refs/headsX', () => {
    const filtered = filterRefs(snapshot([['refs/headsX/a', A], ['refs/heads/a', B]]), ['refs/heads/']);
    expect([...filtered.refs.keys()]).toEqual(['refs/heads/a']);
  });

  it('keeps nothing for no prefixes, and does not change its input', () => {
    const input = snapshot(BASE);
    expect(filterRefs(input, []).refs.size).toBe(0);
    expect(input.refs.size).toBe(BASE.length);
  });
});
