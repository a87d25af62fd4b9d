import { describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { sendPack, StoredPackUploads, type PackUploads } from '../../lambdas/endpoint/PackUploads.ts';
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
      return uri;
    },
  };
}

describe('sendPack: a built pack past the fast part of a Lambda response goes by URL', () => {
  it('a pack smaller than the threshold goes inline, chunk for chunk, and nothing is uploaded', async () => {
    const uploads = memoryUploads(1000);
    const { chunks } = packChunks([300, 300, 200]);
    const delivery = await sendPack(chunks, uploads);
    expect(delivery.kind).toBe('inline');
    if (delivery.kind === 'inline') expect(Buffer.concat([...delivery.pack])).toEqual(Buffer.concat(chunks));
    expect(uploads.stored.size).toBe(0);
  });

  it('a bigger pack is uploaded whole and named by its checksum, with an empty pack inline', async () => {
    const uploads = memoryUploads(1000);
    // The last chunk is shorter than a checksum: the checksum spans two chunks.
    const { chunks, whole } = packChunks([600, 600, 600, 7]);
    const delivery = await sendPack(chunks, uploads);
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

  it('a store-backed upload writes the pack under a new key and answers a signed URL for that key', async () => {
    const store = new MemoryObjectStore();
    const signed: string[] = [];
    const uploads = new StoredPackUploads(store, { signedGetUrl: (key) => (signed.push(key), Promise.resolve(`https://bucket.example/${key}?sig`)) }, 'https', 100);
    const { chunks, whole } = packChunks([80, 80, 80]);
    const delivery = await sendPack(chunks, uploads);
    if (delivery.kind !== 'uri') throw new Error('expected the pack by URL');
    expect(signed).toHaveLength(1);
    expect(signed[0]).toMatch(/^packs\/\d{4}-\d{2}-\d{2}\/[0-9a-f-]{36}\.pack$/);
    expect(await store.get(signed[0]!)).toEqual(whole);
  });
});
