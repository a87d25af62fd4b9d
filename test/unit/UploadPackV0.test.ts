import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from '../../bin/local/git.ts';
import { FETCH_LIMITS, parseFilter } from '../../lambdas/endpoint/fetchArguments.ts';
import type { MirrorContent } from '../../lambdas/endpoint/MirrorFetch.ts';
import { uploadPackV0Advertisement, UploadPackV0 } from '../../lambdas/endpoint/UploadPackV0.ts';
import { UploadPackV2, type UploadPackAnswer } from '../../lambdas/endpoint/UploadPackV2.ts';
import type { GeoError} from '../../lambdas/shared/errors/index.ts';
import { LimitExceededError, PayloadTooLargeError } from '../../lambdas/shared/errors/index.ts';
import { PackSet } from '../../lambdas/shared/git/pack/PackSet.ts';
import { decodePktLines, encodeFlush, encodePktLine, FLUSH } from '../../lambdas/shared/git/pktLine.ts';
import type { RefSnapshot } from '../../lambdas/shared/git/RefSnapshot.ts';

const DELIM = Buffer.from('0001');
const CAPS = 'multi_ack_detailed no-done side-band-64k ofs-delta thin-pack agent=git/2.39';

/** The pkt-lines of an answer up to the pack, as text (the pack itself is left as its first line). */
function lines(body: Buffer): string[] {
  const out: string[] = [];
  let offset = 0;
  while (offset < body.length) {
    const length = Number.parseInt(body.toString('latin1', offset, offset + 4), 16);
    if (length === 0) {
      out.push('0000');
      offset += 4;
      continue;
    }
    const payload = body.subarray(offset + 4, offset + length);
    out.push(payload[0] === 1 ? '<pack>' : payload.toString('utf8').replace(/\n$/, ''));
    offset += length;
  }
  return out;
}

/** An answer's whole body (a pack's answer comes in chunks as it is written). */
function bodyOf(answer: UploadPackAnswer): Buffer {
  if (answer.primary !== undefined) throw new Error(`answered by the primary: ${answer.primary}`);
  return Buffer.isBuffer(answer.body) ? answer.body : Buffer.concat([...answer.body]);
}

/** The pack of a side-band-64k answer, reassembled. */
function packOf(body: Buffer): Buffer {
  const parts = decodePktLines(body).filter((line): line is Buffer => line !== FLUSH && line[0] === 1);
  return Buffer.concat(parts.map((line) => line.subarray(1)));
}

/**
 * Protocol v0/v1 upload-pack against a small real repository: the advertisement, each kind of
 * negotiation round git sends over stateless HTTP, and the limits on what one request may cost.
 * Packs are checked by git itself (`index-pack`).
 */
describe('upload-pack v0/v1 over stateless HTTP', () => {
  let root: string;
  let mirror: MirrorContent;
  let tips: { main: string; parent: string; root: string };
  let snapshot: RefSnapshot;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'git-geo-v0-'));
    const work = join(root, 'work');
    await git(['init', '-q', '-b', 'main', work]);
    for (let i = 0; i < 4; i++) {
      await writeFile(join(work, `f${i}.txt`), `file ${i}\n`.repeat(50 + i));
      await git(['add', '.'], { cwd: work });
      await git(['commit', '-q', '-m', `c${i}`], { cwd: work, env: { GIT_COMMITTER_DATE: `${1_600_000_000 + i * 86_400} +0000` } });
    }
    await git(['tag', '-a', 'v1', '-m', 'v1'], { cwd: work });
    await git(['repack', '-adq'], { cwd: work });
    const packDir = join(work, '.git/objects/pack');
    const name = (await readdir(packDir)).find((file) => file.endsWith('.pack'))!.slice(0, -5);
    const [pack, idx] = await Promise.all([readFile(join(packDir, `${name}.pack`)), readFile(join(packDir, `${name}.idx`))]);
    const rev = async (spec: string): Promise<string> => (await git(['rev-parse', spec], { cwd: work })).trim();
    tips = { main: await rev('main'), parent: await rev('main~1'), root: await rev('main~3') };
    snapshot = { head: 'refs/heads/main', refs: new Map([['refs/heads/main', tips.main], ['refs/tags/v1', await rev('v1')]]), peeled: new Map([['refs/tags/v1', tips.main]]) };
    mirror = { snapshot, packs: () => Promise.resolve(new PackSet([{ pack, idx }])) };
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** git reads the pack; a whole one (`strict`) must have every object its objects link to. */
  async function indexPack(pack: Buffer, strict = true): Promise<string> {
    const file = join(root, `p-${Date.now()}-${Math.random()}.pack`);
    await writeFile(file, pack);
    return git(['index-pack', ...(strict ? ['--strict'] : []), file], { cwd: root });
  }

  const request = (...parts: (string | null)[]): Buffer => Buffer.concat(parts.map((part) => (part === null ? encodeFlush() : encodePktLine(`${part}\n`))));
  const server = (allowReachable = true): UploadPackV0 => new UploadPackV0(mirror, { allowReachableSha1InWant: allowReachable });

  it('advertises HEAD first with the capabilities (symref, shallow, filter…), every ref and the peeled tags, as http-backend does', () => {
    const advertisement = decodePktLines(uploadPackV0Advertisement(snapshot, 0, { allowReachableSha1InWant: true })).map((line) => (line === FLUSH ? '0000' : line.toString('utf8')));
    expect(advertisement[0]).toBe('# service=git-upload-pack\n');
    expect(advertisement[1]).toBe('0000');
    const [head, caps] = advertisement[2]!.split('\0');
    expect(head).toBe(`${tips.main} HEAD`);
    for (const cap of ['multi_ack_detailed', 'no-done', 'side-band-64k', 'ofs-delta', 'thin-pack', 'include-tag', 'shallow', 'deepen-since', 'deepen-not', 'deepen-relative', 'symref=HEAD:refs/heads/main', 'agent=git-geo', 'allow-reachable-sha1-in-want', 'filter']) {
      expect(caps!.trim().split(' ')).toContain(cap);
    }
    expect(advertisement.slice(3)).toEqual([`${tips.main} refs/heads/main\n`, `${snapshot.refs.get('refs/tags/v1')} refs/tags/v1\n`, `${tips.main} refs/tags/v1^{}\n`, '0000']);
    const v1 = decodePktLines(uploadPackV0Advertisement(snapshot, 1, { allowReachableSha1InWant: false })).map((line) => (line === FLUSH ? '0000' : line.toString('utf8')));
    expect(v1[2]).toBe('version 1\n');
    expect(v1[3]).not.toContain('allow-reachable-sha1-in-want');
  });

  it('a clone (wants, done): NAK, then a pack git accepts', async () => {
    const answer = await server().respond(request(`want ${tips.main} ${CAPS}`, null, 'done'));
    expect(answer.primary).toBeUndefined();
    const body = bodyOf(answer);
    expect(lines(body)[0]).toBe('NAK');
    expect(await indexPack(packOf(body))).toMatch(/^[0-9a-f]{40}/);
  });

  it('negotiation: ACK common and ready, NAK; with no-done the pack follows the final ACK at once', async () => {
    const body = (answer: Awaited<ReturnType<UploadPackV0['respond']>>): Buffer => bodyOf(answer);
    const withoutNoDone = body(await server().respond(request(`want ${tips.main} multi_ack_detailed side-band-64k ofs-delta`, null, `have ${tips.parent}`, `have ${'e'.repeat(40)}`, null)));
    expect(lines(withoutNoDone)).toEqual([`ACK ${tips.parent} common`, `ACK ${tips.parent} ready`, 'NAK']);
    const noDone = body(await server().respond(request(`want ${tips.main} multi_ack_detailed no-done side-band-64k ofs-delta`, null, `have ${tips.parent}`, null)));
    expect(lines(noDone).slice(0, 4)).toEqual([`ACK ${tips.parent} common`, `ACK ${tips.parent} ready`, 'NAK', `ACK ${tips.parent}`]);
    // One commit, its tree and one new file: the client has the rest.
    expect(await indexPack(packOf(noDone), false)).toMatch(/^[0-9a-f]{40}/);
    expect(packOf(noDone).readUInt32BE(8)).toBe(3);
    const done = body(await server().respond(request(`want ${tips.main} multi_ack_detailed side-band-64k ofs-delta`, null, `have ${tips.parent}`, 'done')));
    expect(lines(done).slice(0, 2)).toEqual([`ACK ${tips.parent} common`, `ACK ${tips.parent}`]);
    const noCommon = body(await server().respond(request(`want ${tips.main} ${CAPS}`, null, `have ${'e'.repeat(40)}`, null)));
    expect(lines(noCommon)).toEqual(['NAK']);
  });

  it('a shallow fetch: the first request gets the shallow list alone; each later answer starts with it', async () => {
    const first = { body: bodyOf(await server().respond(request(`want ${tips.main} ${CAPS}`, 'deepen 2', null))) };
    expect(lines(first.body)).toEqual([`shallow ${tips.parent}`, '0000']);
    const last = { body: bodyOf(await server().respond(request(`want ${tips.main} ${CAPS}`, 'deepen 2', null, 'done'))) };
    expect(lines(last.body).slice(0, 3)).toEqual([`shallow ${tips.parent}`, '0000', 'NAK']);
    expect(packOf(last.body).readUInt32BE(8)).toBeGreaterThan(0);
    const since = { body: bodyOf(await server().respond(request(`want ${tips.main} ${CAPS}`, `deepen-since ${1_600_000_000 + 2 * 86_400}`, null))) };
    expect(lines(since.body)).toEqual([`shallow ${tips.parent}`, '0000']);
  });

  it('wants by id: a reachable commit when allowed, "not our ref" when not, the primary for what the region lacks', async () => {
    const reachable = await server(true).respond(request(`want ${tips.root} ${CAPS}`, null, 'done'));
    expect(reachable.primary).toBeUndefined();
    expect(lines(bodyOf(reachable))[0]).toBe('NAK');
    const refused = { body: bodyOf(await server(false).respond(request(`want ${tips.root} ${CAPS}`, null, 'done'))) };
    expect(lines(refused.body)).toEqual([`ERR upload-pack: not our ref ${tips.root}`, '0000']);
    expect(await server().respond(request(`want ${'d'.repeat(40)} ${CAPS}`, null, 'done'))).toMatchObject({ primary: 'want-not-held' });
    const v2 = await new UploadPackV2(mirror, { refNamespaces: ['refs/heads/', 'refs/tags/'] }).respond(
      Buffer.concat([encodePktLine('command=fetch\n'), DELIM, encodePktLine(`want ${'d'.repeat(40)}\n`), encodePktLine('done\n'), encodeFlush()]),
    );
    expect(v2).toMatchObject({ primary: 'want-not-held' });
  });

  it('a pack is streamed in chunks as it is written; past the pack limit the answer ends with an error on side-band 3, not a cut', async () => {
    const whole = bodyOf(await server().respond(request(`want ${tips.main} ${CAPS}`, null, 'done')));
    const packBytes = packOf(whole).length;
    const limited = new UploadPackV0(mirror, { allowReachableSha1InWant: true, maxPackBytes: Math.floor(packBytes / 2) });
    const answer = await limited.respond(request(`want ${tips.main} ${CAPS}`, null, 'done'));
    expect(Buffer.isBuffer((answer as { body: unknown }).body)).toBe(false);
    const packets = decodePktLines(bodyOf(answer)).filter((line): line is Buffer => line !== FLUSH);
    const last = packets.at(-1)!;
    expect(last[0]).toBe(3);
    expect(last.subarray(1).toString('utf8')).toMatch(/more than a region streams through Lambda: fetch with `git -c fetch.uriProtocols=https`/);
    // Under the limit the same pack goes whole.
    const roomy = new UploadPackV0(mirror, { allowReachableSha1InWant: true, maxPackBytes: packBytes });
    expect(packOf(bodyOf(await roomy.respond(request(`want ${tips.main} ${CAPS}`, null, 'done')))).equals(packOf(whole))).toBe(true);
  });

  it('an object walk stops past its limit with an error that names the limit and the ways to fetch without a walk, over v0 and v2', async () => {
    // main~0..3: four commits, four trees and four blobs (each commit adds a file): a walk of 12 objects.
    const clone = request(`want ${tips.main} ${CAPS}`, null, 'done');
    const within = new UploadPackV0(mirror, { allowReachableSha1InWant: true, maxWalkObjects: 12 });
    expect(await indexPack(packOf(bodyOf(await within.respond(clone))))).toMatch(/^[0-9a-f]{40}/);
    const over = new UploadPackV0(mirror, { allowReachableSha1InWant: true, maxWalkObjects: 11 });
    const refused = await over.respond(clone).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(LimitExceededError);
    expect((refused as GeoError).code).toBe('ERR_LIMIT_EXCEEDED');
    expect((refused as Error).message).toMatch(/an object walk of more than 11 objects, the most one request may walk: clone with `git -c fetch.uriProtocols=https`/);
    expect((refused as Error).cause).toBeInstanceOf(LimitExceededError);
    // Over v2, a shallow fetch draws on the same budget: depth 1 is one commit, its tree and its four blobs.
    const v2 = (max: number): UploadPackV2 => new UploadPackV2(mirror, { refNamespaces: ['refs/heads/', 'refs/tags/'], maxWalkObjects: max });
    const shallow = Buffer.concat([encodePktLine('command=fetch\n'), DELIM, encodePktLine(`want ${tips.main}\n`), encodePktLine('deepen 1\n'), encodePktLine('done\n'), encodeFlush()]);
    expect(lines(bodyOf(await v2(6).respond(shallow)))[0]).toBe('shallow-info');
    await expect(v2(5).respond(shallow)).rejects.toThrow(/more than 5 objects/);
  });

  it("git's size probe (a lone flush) gets an empty 200 answer, over v0 and v2", async () => {
    expect(await server().respond(encodeFlush())).toMatchObject({ body: Buffer.alloc(0), outcome: { command: 'probe' } });
    expect(await new UploadPackV2(mirror, { refNamespaces: ['refs/heads/'] }).respond(encodeFlush())).toMatchObject({ body: Buffer.alloc(0) });
  });

  it('ls-refs for refs outside the mirrored namespaces goes to the primary; short names the region resolves do not', async () => {
    const v2 = new UploadPackV2(mirror, { refNamespaces: ['refs/heads/', 'refs/tags/'] });
    const lsRefs = (...prefixes: string[]): Buffer => Buffer.concat([encodePktLine('command=ls-refs\n'), DELIM, ...prefixes.map((prefix) => encodePktLine(`ref-prefix ${prefix}\n`)), encodeFlush()]);
    expect(await v2.respond(lsRefs('refs/pull/1/merge', 'refs/heads/refs/pull/1/merge'))).toMatchObject({ primary: 'ls-refs:refs/pull/' });
    // A region configured to mirror refs/pull/ answers for it itself.
    const mirroringPulls = new UploadPackV2(mirror, { refNamespaces: ['refs/heads/', 'refs/tags/', 'refs/pull/'] });
    expect(await mirroringPulls.respond(lsRefs('refs/pull/1/merge'))).toMatchObject({ body: Buffer.from('0000'), outcome: { command: 'ls-refs' } });
    // `git fetch origin main` asks for main, refs/main, refs/tags/main, refs/heads/main, refs/remotes/main…
    const main = await v2.respond(lsRefs('main', 'refs/main', 'refs/tags/main', 'refs/heads/main', 'refs/remotes/main', 'refs/remotes/main/HEAD'));
    expect(main.primary).toBeUndefined();
    expect(lines(bodyOf(main))).toEqual([`${tips.main} refs/heads/main`, '0000']);
    expect((await v2.respond(lsRefs('refs/'))).primary).toBeUndefined();
    // `git fetch origin refs/heads/main` asks for refs/refs/heads/main too.
    expect((await v2.respond(lsRefs('refs/heads/main', 'refs/refs/heads/main', 'refs/tags/refs/heads/main', 'refs/remotes/refs/heads/main/HEAD'))).primary).toBeUndefined();
  });

  it('repeated wants cost one; past the line and distinct-want limits a request is refused with a clear error', async () => {
    const wantLine = encodePktLine(`want ${tips.main}\n`);
    const repeated = (count: number): Buffer => Buffer.concat([encodePktLine(`want ${tips.main} ${CAPS}\n`), Buffer.alloc(count * wantLine.length).fill(wantLine), encodeFlush(), encodePktLine('done\n')]);
    const answer = { body: bodyOf(await server().respond(repeated(50_000))) };
    expect(lines(answer.body)[0]).toBe('NAK');
    expect(packOf(answer.body).readUInt32BE(8)).toBeGreaterThan(0);
    // 330,000 repeats: the 48 KB gzip'd request of the issue.
    await expect(server().respond(repeated(330_000))).rejects.toThrow(`an upload-pack request of more than ${FETCH_LIMITS.maxLines} lines`);
    // One more distinct want than allowed, written straight into one buffer (50 bytes a line).
    const many = Buffer.alloc(FETCH_LIMITS.maxWants * 50);
    for (let i = 0; i < FETCH_LIMITS.maxWants; i++) many.write(`0032want ${i.toString(16).padStart(40, '0')}\n`, i * 50, 'latin1');
    const distinct = Buffer.concat([encodePktLine(`want ${tips.main} ${CAPS}\n`), many, encodeFlush(), encodePktLine('done\n')]);
    const refusal = await server().respond(distinct).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(PayloadTooLargeError);
    expect((refusal as GeoError).message).toBe(`more than ${FETCH_LIMITS.maxWants} distinct want lines in one upload-pack request`);
  });

  it('filters leave out what they say (blobs, big blobs, trees) but never an object wanted by id', async () => {
    const count = async (...extra: string[]): Promise<number> => {
      const answer = { body: bodyOf(await server().respond(request(`want ${tips.main} side-band-64k ofs-delta filter`, ...extra, null, 'done'))) };
      const pack = packOf(answer.body);
      await indexPack(pack, false);
      return pack.readUInt32BE(8);
    };
    // 4 commits, 4 trees, 4 blobs of 350 to 400 bytes.
    expect(await count()).toBe(12);
    expect(await count('filter blob:none')).toBe(8);
    expect(await count('filter blob:limit=1k')).toBe(12);
    expect(await count('filter blob:limit=360')).toBe(10);
    expect(await count('filter tree:0')).toBe(4);
    expect(await count('filter tree:1')).toBe(8);
    const blob = (await git(['rev-parse', `${tips.main}:f0.txt`], { cwd: join(root, 'work') })).trim();
    const lazy = { body: bodyOf(await server().respond(request(`want ${blob} side-band-64k ofs-delta`, null, 'done'))) };
    expect(packOf(lazy.body).readUInt32BE(8)).toBe(1);
  });

  it('deepen-not and deepen-relative draw the boundary as git does', async () => {
    const shallowList = async (...extra: string[]): Promise<string[]> => lines(({ body: bodyOf(await server().respond(request(`want ${tips.main} ${CAPS}`, ...extra, null))) }).body);
    const second = (await git(['rev-parse', 'main~2'], { cwd: join(root, 'work') })).trim();
    // Everything reachable from main~2 is excluded: main~1 is the boundary.
    expect(await shallowList(`deepen-not ${second}`)).toEqual([`shallow ${tips.parent}`, '0000']);
    expect(await shallowList('deepen-not refs/tags/v1')).toEqual(['ERR no commits selected for shallow requests', '0000']);
    // The client is shallow at main; two more below it.
    const relative = lines(({ body: bodyOf(await server().respond(request(`want ${tips.main} ${CAPS} deepen-relative`, `shallow ${tips.main}`, 'deepen 2', null))) }).body);
    expect(relative).toEqual([`shallow ${second}`, `unshallow ${tips.main}`, '0000']);
  });

  it('filters: blob:none, blob:limit with units, tree:<depth>; anything else is refused by name', () => {
    expect(parseFilter('blob:none')).toEqual({ kind: 'blob:limit', bytes: 0 });
    expect(parseFilter('blob:limit=1k')).toEqual({ kind: 'blob:limit', bytes: 1024 });
    expect(parseFilter('tree:0')).toEqual({ kind: 'tree', depth: 0 });
    expect(() => parseFilter('sparse:oid=abc')).toThrow(/filter "sparse:oid=abc" is not served by git-geo regions/);
  });
});
