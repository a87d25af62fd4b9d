import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { bulkFetch, type BulkAnswer, type BulkMirror } from '../../lambdas/endpoint/BulkFetch.ts';
import { LimitExceededError } from '../../lambdas/shared/errors/index.ts';
import { encodeFlush, encodePktLine } from '../../lambdas/shared/git/pktLine.ts';
import { MemoryObjectStore } from '../../lambdas/shared/storage/MemoryObjectStore.ts';
import { createPackFixture, type PackFixture } from './support/packFixtures.ts';

const DELIM = Buffer.from('0001');

async function bodyOf(answer: BulkAnswer): Promise<Buffer> {
  if (answer.kind !== 'answer') throw new Error('expected an answer, not the walk');
  const chunks: Buffer[] = [];
  for await (const chunk of answer.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function fetchRequest(args: readonly string[]): Buffer {
  return Buffer.concat([encodePktLine('command=fetch\n'), encodePktLine('agent=git/2.47\n'), DELIM, ...args.map((arg) => encodePktLine(`${arg}\n`)), encodeFlush()]);
}

describe('bulkFetch: clones answered with whole stored packs, by URL or streamed, never held in memory', () => {
  let fixture: PackFixture;
  let mirror: BulkMirror;
  let pack: Buffer;
  let name: string;
  let main: string;

  beforeAll(async () => {
    fixture = await createPackFixture({ commits: 30 });
    const repacked = await fixture.repackedPack();
    ({ pack, name } = repacked);
    main = (await fixture.git(['rev-parse', 'main'])).toString().trim();
    const store = new MemoryObjectStore();
    const key = `group/app.git/objects/pack/${name}`;
    await store.put(`${key}.pack`, pack);
    await store.put(`${key}.idx`, repacked.idx);
    mirror = {
      snapshot: { head: 'refs/heads/main', refs: new Map([['refs/heads/main', main]]), peeled: new Map() },
      packKeys: [key],
      store,
      index: async (at) => (await store.get(`${at}.idx`))!,
      urls: { signedGetUrl: (at) => Promise.resolve(`https://bucket.example/${at}?X-Amz-Signature=s`) },
      maxInlineBytes: 190 * 2 ** 20,
    };
  });
  afterAll(async () => {
    await fixture?.remove();
  });

  it('a client that takes https URLs gets each stored pack as `<checksum> <url>` and an empty pack inline', async () => {
    const answer = await bulkFetch(fetchRequest([`want ${main}`, 'packfile-uris https', 'ofs-delta', 'done']), mirror);
    expect(answer).toMatchObject({ kind: 'answer', outcome: 'served:packfile-uris', packBytes: 0 });
    const body = await bodyOf(answer);
    const text = body.toString('latin1');
    expect(text).toContain(`packfile-uris\n`);
    expect(text).toContain(`${name.slice('pack-'.length)} https://bucket.example/group/app.git/objects/pack/${name}.pack?X-Amz-Signature=s\n`);
    // The inline pack: a header with no objects and its checksum, on side band 1.
    const inline = body.subarray(body.indexOf('PACK'), body.indexOf('PACK') + 32);
    expect(inline.readUInt32BE(8)).toBe(0);
  });

  it('a client that takes only other schemes, or a shallow clone, goes to the walk', async () => {
    const other = await bulkFetch(fetchRequest([`want ${main}`, 'packfile-uris ftp', 'done']), mirror);
    // Not whole by URL; but it is a clone of every ref, so the stored pack is streamed.
    expect(other).toMatchObject({ kind: 'answer', outcome: 'served:stored-packs' });
    const shallow = await bulkFetch(fetchRequest([`want ${main}`, 'packfile-uris https', 'deepen 1', 'done']), mirror);
    expect(shallow).toEqual({ kind: 'walk' });
  });

  it('without URLs, a clone of every ref streams the stored pack as it is; past the inline limit, a clear error', async () => {
    const answer = await bulkFetch(fetchRequest([`want ${main}`, 'done']), mirror);
    const body = await bodyOf(answer);
    // Side band 1 packets: strip the framing, and the stored pack is what was sent.
    const sent: Buffer[] = [];
    for (let offset = encodePktLine('packfile\n').length; offset < body.length - 4; ) {
      const length = Number.parseInt(body.toString('latin1', offset, offset + 4), 16);
      sent.push(body.subarray(offset + 5, offset + length));
      offset += length;
    }
    expect(Buffer.concat(sent).equals(pack)).toBe(true);
    await expect(bulkFetch(fetchRequest([`want ${main}`, 'done']), { ...mirror, maxInlineBytes: pack.length - 1 })).rejects.toThrow(LimitExceededError);
    await expect(bulkFetch(fetchRequest([`want ${main}`, 'done']), { ...mirror, maxInlineBytes: pack.length - 1 })).rejects.toThrow(/fetch\.uriProtocols=https/);
  });
});
