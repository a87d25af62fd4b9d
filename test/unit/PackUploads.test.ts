import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { PACK_REUSE_SECONDS } from '../../lambdas/endpoint/limits.ts';
import { UploadPackV2 } from '../../lambdas/endpoint/UploadPackV2.ts';
import { encodeFlush, encodePktLine } from '../../lambdas/shared/git/pktLine.ts';
import { sendPack, StoredPackUploads, type PackUploads } from '../../lambdas/endpoint/PackUploads.ts';
import { mirrorStateDigest, packReuseKey } from '../../lambdas/endpoint/packReuse.ts';
import type { MirrorState } from '../../lambdas/shared/git/MirrorRepository.ts';
import { MemoryObjectStore } from '../../lambdas/shared/storage/MemoryObjectStore.ts';

/** A pack-shaped byte string: a body and the SHA-1 of it as its last 20 bytes, in chunks of the given sizes. */
function packChunks(sizes: readonly number[]): { chunks: Buffer[]; whole: Buffer } {
  const body = randomBytes(sizes.reduce((sum, size) => sum + size, 0) - 20);
  const whole = Buffer.concat([body, createHash('sha1').update(body).digest()]);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const size of sizes) {
    chunks.push(whole.subarray(at, at + size));
    at += size;
  }
  return { chunks, whole };
}

/** Uploads kept in memory under the URL they are named by. */
function memoryUploads(minBytes: number): PackUploads & { readonly stored: Map<string, Buffer> } {
  const stored = new Map<string, Buffer>();
  return {
    protocol: 'https',
    minBytes,
    stored,
    async upload(pack) {
      const parts: Buffer[] = [];
      for await (const part of pack) parts.push(part as Buffer);
      const uri = `https://downloads.example/${stored.size}.pack`;
      stored.set(uri, Buffer.concat(parts));
      return { object: `${stored.size - 1}.pack`, uri };
    },
    remember: () => Promise.reject(new Error('not recorded here')),
    reused: () => Promise.resolve(undefined),
  };
}

describe('sendPack: a built pack past the fast part of a Lambda response goes by URL', () => {
  it('a pack smaller than the threshold goes inline, chunk for chunk, and nothing is uploaded', async () => {
    const uploads = memoryUploads(1000);
    const { chunks } = packChunks([300, 300, 200]);
    const delivery = await sendPack(chunks, uploads, 'key');
    expect(delivery.kind).toBe('inline');
    if (delivery.kind === 'inline') expect(Buffer.concat([...delivery.pack])).toEqual(Buffer.concat(chunks));
    expect(uploads.stored.size).toBe(0);
  });

  it('a bigger pack is uploaded whole and named by its checksum, with an empty pack inline', async () => {
    const uploads = memoryUploads(1000);
    // The last chunk is shorter than a checksum: the checksum spans two chunks.
    const { chunks, whole } = packChunks([600, 600, 600, 7]);
    const delivery = await sendPack(chunks, uploads, 'key');
    if (delivery.kind !== 'uri') throw new Error('expected the pack by URL');
    expect(delivery.bytes).toBe(whole.length);
    const [uri, uploaded] = [...uploads.stored][0]!;
    expect(uploaded).toEqual(whole);
    const text = Buffer.concat([...delivery.sections]).toString('latin1');
    expect(text).toContain(`packfile-uris\n`);
    expect(text).toContain(`${whole.subarray(-20).toString('hex')} ${uri}\n`);
    // The packfile section: side band 1, a pack of no objects, then a flush.
    const inline = Buffer.concat([...delivery.sections]);
    const pack = inline.subarray(inline.indexOf('PACK'), inline.indexOf('PACK') + 32);
    expect(pack.readUInt32BE(8)).toBe(0);
    expect(text.endsWith('0000')).toBe(true);
  });

  it('a store-backed upload writes each build of a pack to an object of its own under its reuse key, and answers a signed URL for it', async () => {
    const store = new MemoryObjectStore();
    const signed: string[] = [];
    const uploads = new StoredPackUploads(store, { signedGetUrl: (key) => (signed.push(key), Promise.resolve(`https://bucket.example/${key}?sig`)) }, 'https', 100);
    const { chunks, whole } = packChunks([80, 80, 80]);
    const delivery = await sendPack(chunks, uploads, 'k1');
    if (delivery.kind !== 'uri') throw new Error('expected the pack by URL');
    expect(signed).toHaveLength(1);
    expect(signed[0]).toMatch(/^reuse\/k1\/[0-9a-f-]{36}\.pack$/);
    expect(delivery.object).toBe(signed[0]);
    expect(await store.get(signed[0]!)).toEqual(whole);
    expect(delivery.checksum).toBe(whole.subarray(-20).toString('hex'));
    // The same request built again (two runners at once): another object; the first is untouched.
    const again = await sendPack(chunks, uploads, 'k1');
    if (again.kind !== 'uri') throw new Error('expected the pack by URL');
    expect(again.object).not.toBe(delivery.object);
    expect(await store.get(delivery.object)).toEqual(whole);
  });
});

describe('StoredPackUploads: a pack built for one request answers the same request again', () => {
  const oid = (digit: string): string => digit.repeat(40);
  let clock = 1_000_000;
  const setup = (): { store: MemoryObjectStore; uploads: StoredPackUploads; signed: string[] } => {
    const store = new MemoryObjectStore();
    const signed: string[] = [];
    const uploads = new StoredPackUploads(store, { signedGetUrl: (key) => (signed.push(key), Promise.resolve(`https://bucket.example/${key}?n=${signed.length}`)) }, 'https', 100, () => clock);
    return { store, uploads, signed };
  };
  const answer = { object: 'reuse/k1/build.pack', checksum: oid('c'), bytes: 240, objects: 3, shallow: [oid('a')], unshallow: [] };

  it('once its record is written, the stored pack is found with its answer and a new URL', async () => {
    const { uploads, signed } = setup();
    const { chunks } = packChunks([80, 80, 80]);
    const delivery = await sendPack(chunks, uploads, 'k1');
    if (delivery.kind !== 'uri') throw new Error('expected the pack by URL');
    // Uploaded but not yet recorded (an instance that died between the two): not reused.
    expect(await uploads.reused('k1')).toBeUndefined();
    await uploads.remember('k1', { ...answer, object: delivery.object });
    expect(await uploads.reused('k1')).toEqual({ ...answer, object: delivery.object, uri: `https://bucket.example/${delivery.object}?n=2` });
    expect(signed).toEqual([delivery.object, delivery.object]);
    expect(await uploads.reused('k2')).toBeUndefined();
  });

  it('a record older than PACK_REUSE_SECONDS, one it cannot read, or one naming another key\'s pack is a miss', async () => {
    const { store, uploads } = setup();
    await uploads.remember('old', { ...answer, object: 'reuse/old/build.pack' });
    clock += PACK_REUSE_SECONDS * 1000;
    expect(await uploads.reused('old')).toEqual(expect.objectContaining({ checksum: answer.checksum }));
    clock += 1;
    expect(await uploads.reused('old')).toBeUndefined();
    await store.put('reuse/garbled.json', '{"checksum": "not hex"');
    expect(await uploads.reused('garbled')).toBeUndefined();
    await store.put('reuse/other.json', JSON.stringify({ ...answer, object: 'reuse/other/build.pack', checksum: 'z'.repeat(40), storedAt: clock }));
    expect(await uploads.reused('other')).toBeUndefined();
    // A record naming a pack of another request's key.
    await uploads.remember('elsewhere', answer);
    expect(await uploads.reused('elsewhere')).toBeUndefined();
  });
});

describe('packReuseKey: one key for requests that get the same objects', () => {
  const state = (refs: Record<string, string>, packs: readonly string[]): MirrorState => ({ snapshot: { head: 'refs/heads/main', refs: new Map(Object.entries(refs)), peeled: new Map() }, packs });
  const main = { 'refs/heads/main': 'a'.repeat(40), 'refs/tags/v1': 'b'.repeat(40) };
  const digest = mirrorStateDigest('group/app', state(main, ['pack-1.pack', 'pack-2.pack']));
  const depth1 = [`want ${'a'.repeat(40)}`, 'thin-pack', 'include-tag', 'ofs-delta', 'deepen 1', 'done'];

  it('the order of arguments, done and no-progress do not change it', () => {
    expect(packReuseKey(digest, depth1)).toBe(packReuseKey(digest, [...depth1].reverse()));
    expect(packReuseKey(digest, depth1)).toBe(packReuseKey(digest, [...depth1.filter((line) => line !== 'done'), 'no-progress']));
  });

  it('another want, depth, filter or have, another repository, another pack or ref: another key', () => {
    const key = packReuseKey(digest, depth1);
    const others = [
      packReuseKey(digest, [...depth1, `want ${'b'.repeat(40)}`]),
      packReuseKey(digest, depth1.map((line) => (line === 'deepen 1' ? 'deepen 2' : line))),
      packReuseKey(digest, [...depth1, 'filter blob:none']),
      packReuseKey(digest, [...depth1, `have ${'d'.repeat(40)}`]),
      packReuseKey(mirrorStateDigest('group/other', state(main, ['pack-1.pack', 'pack-2.pack'])), depth1),
      packReuseKey(mirrorStateDigest('group/app', state(main, ['pack-1.pack', 'pack-2.pack', 'pack-3.pack'])), depth1),
      packReuseKey(mirrorStateDigest('group/app', state({ ...main, 'refs/tags/v2': 'a'.repeat(40) }, ['pack-1.pack', 'pack-2.pack'])), depth1),
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
    // The same state read again (another object, same content) has the same digest.
    expect(mirrorStateDigest('group/app', state(main, ['pack-2.pack', 'pack-1.pack']))).toBe(digest);
  });
});

describe('UploadPackV2: a clone asked again is answered from its record, without the mirror\'s packs', () => {
  const tip = 'a'.repeat(40);
  const record = { object: 'reuse/k/build.pack', checksum: 'c'.repeat(40), bytes: 7_000_000, objects: 4952, shallow: [tip], unshallow: [] };
  const snapshot = { head: 'refs/heads/main', refs: new Map([['refs/heads/main', tip]]), peeled: new Map<string, string>() };
  const fetchBody = (...args: string[]): Buffer => Buffer.concat([encodePktLine('command=fetch\n'), Buffer.from('0001'), ...args.map((arg) => encodePktLine(`${arg}\n`)), encodeFlush()]);

  function serverWith(lookups: string[], digests: { count: number }): UploadPackV2 {
    const uploads: PackUploads = {
      protocol: 'https',
      minBytes: 100,
      upload: () => Promise.reject(new Error('nothing is uploaded')),
      remember: () => Promise.reject(new Error('nothing is recorded')),
      reused: (key) => (lookups.push(key), Promise.resolve({ ...record, uri: 'https://bucket.example/reuse/k/build.pack?sig' })),
    };
    // Reading the packs (to walk, or copy them to /tmp) fails this test.
    const content = { snapshot, packs: () => Promise.reject(new Error('the mirror\'s packs were read')) };
    return new UploadPackV2(content, { refNamespaces: ['refs/heads/'], packUris: { uploads, mirrorStateDigest: () => (digests.count++, 'state') } });
  }

  it('a depth-1 clone by URL: the shallow boundary and the pack URL from the record, no walk', async () => {
    const lookups: string[] = [];
    const digests = { count: 0 };
    const answer = await serverWith(lookups, digests).respond(fetchBody(`want ${tip}`, 'deepen 1', 'include-tag', 'packfile-uris https', 'done'));
    if (answer.primary !== undefined) throw new Error('expected an answer from the region');
    const text = Buffer.concat(Buffer.isBuffer(answer.body) ? [answer.body] : [...answer.body]).toString('latin1');
    expect(text).toContain(`shallow-info\n`);
    expect(text).toContain(`shallow ${tip}\n`);
    expect(text).toContain(`${record.checksum} https://bucket.example/reuse/k/build.pack?sig\n`);
    expect(answer.outcome).toEqual({ command: 'fetch', objects: 4952, packBytes: 7_000_000, byUri: true, reused: true });
    expect(lookups).toEqual([packReuseKey('state', [`want ${tip}`, 'deepen 1', 'include-tag', 'done'])]);
    expect(digests.count).toBe(1);
  });

  it('a client that does not take packs by URL: no digest and no lookup', async () => {
    const lookups: string[] = [];
    const digests = { count: 0 };
    await expect(serverWith(lookups, digests).respond(fetchBody(`want ${tip}`, 'deepen 1', 'done'))).rejects.toThrow("the mirror's packs were read");
    expect({ lookups, digests: digests.count }).toEqual({ lookups: [], digests: 0 });
  });
});
