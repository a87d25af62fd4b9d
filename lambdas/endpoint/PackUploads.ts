import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { encodeFlush, encodePktLine } from '../shared/git/pktLine.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { ObjectUrls } from '../shared/storage/ObjectUrls.ts';
import { PACK_URI_MIN_BYTES } from './limits.ts';
import { emptyPack } from './packFraming.ts';

/**
 * Where a built pack too big for a fast inline answer goes: stored, then downloaded by the
 * client from a URL (protocol v2 `packfile-uris`), so its bytes never pass through Lambda.
 */
export interface PackUploads {
  /** The scheme of its URLs (`https` in AWS): the client must list it in `fetch.uriProtocols`. */
  readonly protocol: string;
  /** Packs of at least this many bytes go by URL; smaller ones are sent inline. */
  readonly minBytes: number;
  /** Stores a pack and answers a URL that serves it. */
  upload(pack: Readable): Promise<string>;
}

/** Packs written to a store of their own (which expires them), each under a new key, downloaded by pre-signed URL. */
export class StoredPackUploads implements PackUploads {
  constructor(
    private readonly store: ObjectStore,
    private readonly urls: ObjectUrls,
    readonly protocol: string,
    readonly minBytes: number = PACK_URI_MIN_BYTES,
  ) {}

  async upload(pack: Readable): Promise<string> {
    const key = `packs/${new Date().toISOString().slice(0, 10)}/${randomUUID()}.pack`;
    await this.store.putStream(key, pack, { contentType: 'application/x-git-packed-objects' });
    return this.urls.signedGetUrl(key);
  }
}

const DELIM = Buffer.from('0001', 'latin1');
const CHECKSUM_BYTES = 20;

/** What `sendPack` decided: the pack's chunks to frame inline, or the answer's closing sections naming its URL. */
export type PackDelivery = { readonly kind: 'inline'; readonly pack: Iterable<Buffer> } | { readonly kind: 'uri'; readonly sections: readonly Buffer[]; readonly bytes: number };

/**
 * Writes the first `minBytes` of a pack; if it ends there, it goes inline as usual. Past that,
 * the whole pack is uploaded as it is written (memory holds the first chunks and the upload's parts), and
 * the answer names it in a `packfile-uris` section, by the pack's own checksum, which git checks
 * against the pack it downloads. The inline `packfile` section then carries an empty pack.
 */
export async function sendPack(pack: Iterable<Buffer>, uploads: PackUploads): Promise<PackDelivery> {
  const chunks = pack[Symbol.iterator]();
  const head: Buffer[] = [];
  let bytes = 0;
  // The pack's last 20 bytes so far: its checksum once it ends.
  let tail: Buffer = Buffer.alloc(0);
  const take = (chunk: Buffer): Buffer => {
    bytes += chunk.length;
    tail = chunk.length >= CHECKSUM_BYTES ? chunk.subarray(-CHECKSUM_BYTES) : Buffer.concat([tail, chunk]).subarray(-CHECKSUM_BYTES);
    return chunk;
  };
  while (bytes < uploads.minBytes) {
    const next = chunks.next();
    if (next.done === true) return { kind: 'inline', pack: head };
    head.push(take(next.value));
  }
  function* whole(): Generator<Buffer> {
    yield* head;
    for (let next = chunks.next(); next.done !== true; next = chunks.next()) yield take(next.value);
  }
  const uri = await uploads.upload(Readable.from(whole(), { objectMode: false }));
  const sections = [
    encodePktLine('packfile-uris\n'),
    encodePktLine(`${tail.toString('hex')} ${uri}\n`),
    DELIM,
    encodePktLine('packfile\n'),
    encodePktLine(Buffer.concat([Buffer.from([1]), emptyPack()])),
    encodeFlush(),
  ];
  return { kind: 'uri', sections, bytes };
}
