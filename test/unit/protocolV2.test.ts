import { describe, expect, it } from '@jest/globals';
import { encodeFlush, encodePktLine } from '../../lambdas/shared/git/pktLine.ts';
import { fetchRequest, lsRefsRequest, parseInfoRefsAnswer, parseLsRefs } from '../../lambdas/shared/git/protocolV2.ts';
import { acceptRefs } from '../../lambdas/sync/refsToMirror.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const pkt = (...lines: (string | Buffer | null)[]): Buffer => Buffer.concat(lines.map((line) => (line === null ? encodeFlush() : encodePktLine(line))));

describe('protocol v2 towards the primary', () => {
  it('tells a v2 capability advertisement from a v0 ref advertisement', () => {
    const v2 = parseInfoRefsAnswer(pkt('# service=git-upload-pack\n', null, 'version 2\n', 'agent=git/2.39\n', 'ls-refs=unborn\n', 'fetch=shallow\n', 'object-format=sha1\n', null));
    expect(v2).toEqual({ version: 2, capabilities: { agent: 'git/2.39', 'ls-refs': 'unborn', fetch: 'shallow', 'object-format': 'sha1' } });
    const v0 = parseInfoRefsAnswer(
      pkt('# service=git-upload-pack\n', null, `${A} HEAD\0multi_ack side-band-64k symref=HEAD:refs/heads/main\n`, `${A} refs/heads/main\n`, `${B} refs/tags/v1\n`, `${A} refs/tags/v1^{}\n`, null),
    );
    expect(v0.version).toBe(0);
    if (v0.version !== 0) return;
    expect(v0.capabilities['side-band-64k']).toBe(true);
    expect(v0.refs.snapshot.head).toBe('refs/heads/main');
    expect([...v0.refs.snapshot.refs]).toEqual([['refs/heads/main', A], ['refs/tags/v1', B]]);
    expect([...v0.refs.snapshot.peeled]).toEqual([['refs/tags/v1', A]]);
  });

  it('asks ls-refs for the mirrored prefixes only, with peel and symrefs; fetch with wants, haves and done', () => {
    const request = lsRefsRequest(['refs/heads/', 'refs/tags/'], { agent: 'git/2.39', 'ls-refs': 'unborn', 'object-format': 'sha1' }).toString('latin1');
    expect(request).toBe(
      '0014command=ls-refs\n0012agent=git-geo\n0017object-format=sha1\n0001' + '0009peel\n000csymrefs\n000bunborn\n0014ref-prefix HEAD\n001bref-prefix refs/heads/\n001aref-prefix refs/tags/\n0000',
    );
    const fetch = fetchRequest({ wants: [A, A], haves: [B] }, {}).toString('latin1');
    expect(fetch).toBe(`0012command=fetch\n0001000eofs-delta\n0010no-progress\n0032want ${A}\n0032have ${B}\n0009done\n0000`);
    expect(() => fetchRequest({ wants: [], haves: [] }, {})).toThrow(/without wants/);
    expect(() => fetchRequest({ wants: ['nope'], haves: [] }, {})).toThrow(/invalid object id/);
  });

  it('reads ls-refs: symref HEAD, peeled tags, an unborn HEAD', () => {
    const listed = parseLsRefs(pkt(`${A} HEAD symref-target:refs/heads/main\n`, `${A} refs/heads/main\n`, `${B} refs/tags/v1 peeled:${A}\n`, null));
    expect(listed.refused).toEqual([]);
    expect(listed.snapshot.head).toBe('refs/heads/main');
    expect([...listed.snapshot.refs]).toEqual([['refs/heads/main', A], ['refs/tags/v1', B]]);
    expect([...listed.snapshot.peeled]).toEqual([['refs/tags/v1', A]]);
    const unborn = parseLsRefs(pkt('unborn HEAD symref-target:refs/heads/trunk\n', null));
    expect(unborn.snapshot.head).toBe('refs/heads/trunk');
    expect(unborn.snapshot.refs.size).toBe(0);
  });

  it('refuses ref names git would refuse, whatever the protocol, and keeps the rest', () => {
    const bad = [
      Buffer.from('refs/heads/x\nrefs/heads/injected'),
      Buffer.from('refs/heads/tab\tname'),
      Buffer.from('refs/heads/with space'),
      Buffer.from('refs/heads/../escape'),
      Buffer.from('refs/heads/end.lock'),
      Buffer.concat([Buffer.from('refs/heads/bad-utf8-'), Buffer.from([0xff, 0xfe])]),
    ];
    const lsRefs = parseLsRefs(pkt(`${A} refs/heads/main\n`, ...bad.map((name) => Buffer.concat([Buffer.from(`${B} `), name, Buffer.from('\n')])), null));
    expect([...lsRefs.snapshot.refs.keys()]).toEqual(['refs/heads/main']);
    expect(lsRefs.refused).toHaveLength(bad.length);
    expect(lsRefs.refused[0]).toEqual({ name: 'refs/heads/x\\nrefs/heads/injected', reason: expect.stringMatching(/check-ref-format/) });
    expect(lsRefs.refused.at(-1)!.reason).toMatch(/UTF-8/);
    const v0 = parseInfoRefsAnswer(pkt(`${A} refs/heads/main\0side-band-64k\n`, ...bad.map((name) => Buffer.concat([Buffer.from(`${B} `), name, Buffer.from('\n')])), null));
    expect(v0.version === 0 && [...v0.refs.snapshot.refs.keys()]).toEqual(['refs/heads/main']);
    expect(v0.version === 0 && v0.refs.refused.length).toBe(bad.length);
    // The same judgement after discovery (the isomorphic-git engine's path), HEAD's target included.
    const accepted = acceptRefs({ head: 'refs/heads/a\tb', refs: new Map([['refs/heads/main', A], ['refs/heads/a\tb', B]]), peeled: new Map() });
    expect([...accepted.snapshot.refs.keys()]).toEqual(['refs/heads/main']);
    expect(accepted.snapshot.head).toBeUndefined();
    expect(accepted.refused.map((ref) => ref.name)).toEqual(['refs/heads/a\\tb', 'HEAD -> refs/heads/a\\tb']);
  });
});
