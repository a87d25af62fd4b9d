import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { LimitExceededError } from '../shared/errors/index.ts';
import { PackIndex } from '../shared/git/pack/PackIndex.ts';
import { encodeFlush, encodePktLine, splitPackets } from '../shared/git/pktLine.ts';
import type { RefSnapshot } from '../shared/git/RefSnapshot.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { ObjectUrls } from '../shared/storage/ObjectUrls.ts';
import { uriProtocols } from './fetchArguments.ts';
import { emptyPack, framePackAsync } from './packFraming.ts';

/** What a bulk answer needs: the mirror's refs and packs, where to read them, and how to sign their URLs. */
export interface BulkMirror {
  readonly snapshot: RefSnapshot;
  /** Keys of the mirror's packs, without `.pack`/`.idx`. */
  readonly packKeys: readonly string[];
  readonly store: ObjectStore;
  index(key: string): Promise<Buffer>;
  /** Absent: no pre-signed URLs (the client gets packs inline). */
  readonly urls?: ObjectUrls;
  /** Largest pack a response may carry inline: a Lambda streamed response stops at 200 MB. */
  readonly maxInlineBytes: number;
}

/** What `bulkFetch` decided: an answer, or that the object walk answers the request. */
export type BulkAnswer = { readonly kind: 'answer'; readonly body: Readable; readonly outcome: string; readonly packBytes: number } | { readonly kind: 'walk' };

const DELIM = Buffer.from('0001', 'latin1');
/** What `git fetch --unshallow` asks for: `deepen 2147483647`. */
const INFINITE_DEPTH = 0x7fffffff;
const OID = /^[0-9a-f]{40}$/;
/** Arguments that ask for less than whole packs: the walk answers them. */
const NARROWING = ['filter', 'deepen-since', 'deepen-not', 'deepen-relative', 'want-ref'];

/**
 * Protocol v2 fetches that take whole stored packs, answered without an object walk and
 * without holding a pack in memory:
 * - a client that sent `packfile-uris <protocols>` (`git -c fetch.uriProtocols=https`) and
 *   holds none of the mirror's objects (a clone, `--single-branch` too), or is unshallowing,
 *   gets every stored pack as a pre-signed URL (`<pack checksum> <uri>`), straight from the
 *   bucket, and an empty pack inline: only a few hundred bytes pass through Lambda;
 * - a clone of every ref without it gets the stored packs streamed from the bucket, as one
 *   pack, as long as they fit in a streamed response; past that, an error that says how to
 *   clone instead.
 * Anything else goes to the object walk (which sends a big pack it builds by URI too).
 */
export async function bulkFetch(body: Buffer, mirror: BulkMirror): Promise<BulkAnswer> {
  const all = splitPackets(body);
  if (all === undefined || all[0]?.text !== 'command=fetch') return { kind: 'walk' };
  const walk: BulkAnswer = { kind: 'walk' };
  const args = all.flatMap((packet) => (packet.text === undefined ? [] : [packet.text]));
  if (args.some((arg) => NARROWING.includes(arg.split(' ')[0]!)) || mirror.packKeys.length === 0) return walk;
  const hexes = (name: string): string[] => args.filter((arg) => arg.startsWith(`${name} `)).map((arg) => arg.slice(name.length + 1));
  const wants = hexes('want');
  const haves = hexes('have');
  const shallows = hexes('shallow');
  if (wants.length === 0 || ![...wants, ...haves, ...shallows].every((oid) => OID.test(oid))) return walk;
  const deepen = args.find((arg) => arg.startsWith('deepen '));
  const unshallow = deepen !== undefined && Number(deepen.slice('deepen '.length)) >= INFINITE_DEPTH;
  if (deepen !== undefined && !unshallow) return walk;

  const indexes = await Promise.all(mirror.packKeys.map(async (key) => new PackIndex(await mirror.index(key))));
  const holds = (oid: string): boolean => {
    const id = Buffer.from(oid, 'hex');
    return indexes.some((index) => index.find(id) !== undefined);
  };
  // A want this region does not hold is the walk's to answer (or to send to the primary).
  if (!wants.every(holds)) return walk;
  const commons = haves.filter(holds);
  const protocols = uriProtocols(args);
  const byUri = mirror.urls !== undefined && protocols.some((protocol) => protocol === 'https' || protocol === 'http');

  if (byUri && (commons.length === 0 || unshallow)) {
    const links = await Promise.all(mirror.packKeys.map(async (key) => ({ checksum: key.slice(key.lastIndexOf('pack-') + 5), uri: await mirror.urls!.signedGetUrl(`${key}.pack`) })));
    // The client lists the protocols it takes; a URL of another scheme it would refuse.
    if (links.every(({ uri }) => protocols.includes(new URL(uri).protocol.slice(0, -1)))) {
      const parts: Buffer[] = [];
      if (!args.includes('done')) {
        if (commons.length === 0) return walk;
        parts.push(encodePktLine('acknowledgments\n'), ...commons.map((oid) => encodePktLine(`ACK ${oid}\n`)), encodePktLine('ready\n'), DELIM);
      }
      if (unshallow) {
        // Every pack goes, so every shallow commit the client names gets its whole history.
        parts.push(encodePktLine('shallow-info\n'), ...shallows.filter(holds).map((oid) => encodePktLine(`unshallow ${oid}\n`)), DELIM);
      }
      parts.push(encodePktLine('packfile-uris\n'), ...links.map(({ checksum, uri }) => encodePktLine(`${checksum} ${uri}\n`)), DELIM);
      parts.push(encodePktLine('packfile\n'), encodePktLine(Buffer.concat([Buffer.from([1]), emptyPack()])), encodeFlush());
      return { kind: 'answer', body: Readable.from(parts), outcome: 'served:packfile-uris', packBytes: 0 };
    }
  }

  // Without URLs: the stored packs as one, when that is exactly what was asked (every ref, from nothing).
  if (unshallow || haves.length > 0 || !args.includes('done')) return walk;
  const wanted = new Set(wants);
  const tips = [...mirror.snapshot.refs.values()];
  if (tips.length === 0 || !tips.every((oid) => wanted.has(oid)) || hasDuplicates(indexes)) return walk;
  const sizes = await Promise.all(mirror.packKeys.map(async (key) => (await mirror.store.head(`${key}.pack`))?.size ?? 0));
  const total = sizes.reduce((sum, size) => sum + size - 32, 32);
  if (total > mirror.maxInlineBytes) {
    throw new LimitExceededError(
      `this repository's pack is ${(total / 2 ** 20).toFixed(0)} MB, more than a region streams through Lambda (${(mirror.maxInlineBytes / 2 ** 20).toFixed(0)} MB): ` +
        'clone with `git -c fetch.uriProtocols=https clone …` to download it straight from the bucket',
      { data: { bytes: total, limit: mirror.maxInlineBytes } },
    );
  }
  const count = indexes.reduce((sum, index) => sum + index.count, 0);
  const pack = Readable.from(concatenatedPacks(mirror, count));
  const response = async function* (): AsyncGenerator<Buffer> {
    yield encodePktLine('packfile\n');
    yield* framePackAsync(pack, { mode: 'side-band-64k' });
  };
  return { kind: 'answer', body: Readable.from(response()), outcome: 'served:stored-packs', packBytes: total };
}

/** Whether two packs hold the same object (one pack must not repeat an object). */
function hasDuplicates(indexes: readonly PackIndex[]): boolean {
  if (indexes.length < 2) return false;
  const seen = new Set<string>();
  for (const index of indexes) {
    for (let position = 0; position < index.count; position++) {
      const id = index.oidAt(position).toString('latin1');
      if (seen.has(id)) return true;
      seen.add(id);
    }
  }
  return false;
}

/** The stored packs as one pack, streamed from the store: one header, every entry as stored, one checksum. */
async function* concatenatedPacks(mirror: BulkMirror, count: number): AsyncGenerator<Buffer> {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(count, 8);
  const hash = createHash('sha1').update(header);
  yield header;
  for (const key of mirror.packKeys) {
    const stored = await mirror.store.stream(`${key}.pack`);
    if (stored === undefined) throw new Error(`pack ${key} is listed but missing`);
    // Entries are [12, size - 20): each pack's own header and checksum are dropped.
    let position = 0;
    const end = stored.size - 20;
    for await (const chunk of stored.body as AsyncIterable<Buffer>) {
      const from = Math.max(0, 12 - position);
      const to = Math.min(chunk.length, end - position);
      position += chunk.length;
      if (to <= from) continue;
      const entries = chunk.subarray(from, to);
      hash.update(entries);
      yield entries;
    }
  }
  yield hash.digest();
}
