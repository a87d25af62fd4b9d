import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import * as z from 'zod';
import { encodeFlush, encodePktLine } from '../shared/git/pktLine.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { ObjectUrls } from '../shared/storage/ObjectUrls.ts';
import { PACK_REUSE_SECONDS, PACK_URI_MIN_BYTES } from './limits.ts';
import { emptyPack } from './packFraming.ts';

const OID_HEX = z.string().regex(/^[0-9a-f]{40}$/);
/** Under this prefix, each pack `<key>/<build>.pack` and the record `<key>.json` written after it. */
const REUSE_PREFIX = 'reuse/';

/** A stored pack's record: what it answers (enough to answer the same request again without building it), and when. */
const StoredPackRecord = z.object({
  /** Where the pack is stored (what `upload` answered). */
  object: z.string().startsWith(REUSE_PREFIX),
  /** The pack's own checksum (its last 20 bytes), hex: the `packfile-uris` line names the pack by it. */
  checksum: OID_HEX,
  bytes: z.number().int().positive(),
  objects: z.number().int().nonnegative(),
  /** The answer's `shallow-info`, for a deepening fetch. */
  shallow: z.array(OID_HEX).readonly(),
  unshallow: z.array(OID_HEX).readonly(),
  storedAt: z.number().int(),
});

export type StoredPackAnswer = Readonly<Omit<z.infer<typeof StoredPackRecord>, 'storedAt'>>;

/**
 * Where a built pack too big for a fast inline answer goes: stored, then downloaded by the
 * client from a URL (protocol v2 `packfile-uris`), so its bytes never pass through Lambda.
 * A pack stored under a reuse key (the request and the mirror's state, see packReuse.ts)
 * answers the same request again, from any instance, without building it.
 */
export interface PackUploads {
  /** The scheme of its URLs (`https` in AWS): the client must list it in `fetch.uriProtocols`. */
  readonly protocol: string;
  /** Packs of at least this many bytes go by URL; smaller ones are sent inline. */
  readonly minBytes: number;
  /** Stores a pack built for the request of `reuseKey`; answers where, and a URL that serves it. */
  upload(pack: Readable, reuseKey: string): Promise<{ readonly object: string; readonly uri: string }>;
  /** Records what the pack stored under `reuseKey` answers; from then on {@link reused} finds it. */
  remember(reuseKey: string, answer: StoredPackAnswer): Promise<void>;
  /** The answer and a new URL of a pack stored under `reuseKey`, if one was recorded recently enough to hand out. */
  reused(reuseKey: string): Promise<(StoredPackAnswer & { readonly uri: string }) | undefined>;
}

/**
 * Packs written to a store of their own (which expires them a day later), downloaded by
 * pre-signed URL. Each build of a pack is an object of its own, so two runners building the same
 * request at once never overwrite the pack the other's client is downloading; the record, written
 * once a pack is whole, names one of them.
 */
export class StoredPackUploads implements PackUploads {
  constructor(
    private readonly store: ObjectStore,
    private readonly urls: ObjectUrls,
    readonly protocol: string,
    readonly minBytes: number = PACK_URI_MIN_BYTES,
    private readonly now: () => number = Date.now,
  ) {}

  async upload(pack: Readable, reuseKey: string): Promise<{ readonly object: string; readonly uri: string }> {
    const object = `${REUSE_PREFIX}${reuseKey}/${randomUUID()}.pack`;
    await this.store.putStream(object, pack, { contentType: 'application/x-git-packed-objects' });
    return { object, uri: await this.urls.signedGetUrl(object) };
  }

  async remember(reuseKey: string, answer: StoredPackAnswer): Promise<void> {
    await this.store.put(`${REUSE_PREFIX}${reuseKey}.json`, JSON.stringify({ ...answer, storedAt: this.now() }), { contentType: 'application/json' });
  }

  async reused(reuseKey: string): Promise<(StoredPackAnswer & { readonly uri: string }) | undefined> {
    const raw = await this.store.get(`${REUSE_PREFIX}${reuseKey}.json`);
    if (raw === undefined) return undefined;
    // A record this code cannot read (another version's) is a miss: the pack is built again.
    const parsed = StoredPackRecord.safeParse(parseJson(raw));
    if (!parsed.success) return undefined;
    // Old records are not handed out: the bucket expires packs, and a URL must outlive its use.
    const { storedAt, ...answer } = parsed.data;
    if (this.now() - storedAt > PACK_REUSE_SECONDS * 1000 || !answer.object.startsWith(`${REUSE_PREFIX}${reuseKey}/`)) return undefined;
    return { ...answer, uri: await this.urls.signedGetUrl(answer.object) };
  }
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}

const DELIM = Buffer.from('0001', 'latin1');
const CHECKSUM_BYTES = 20;

/** What `sendPack` decided: the pack's chunks to frame inline, or the answer's closing sections naming its URL. */
export type PackDelivery =
  | { readonly kind: 'inline'; readonly pack: Iterable<Buffer> }
  | { readonly kind: 'uri'; readonly sections: readonly Buffer[]; readonly bytes: number; readonly checksum: string; readonly object: string };

/** The answer's last sections when its pack is at a URL: `packfile-uris` naming it, then an empty inline pack. */
export function packUriSections(checksum: string, uri: string): Buffer[] {
  return [
    encodePktLine('packfile-uris\n'),
    encodePktLine(`${checksum} ${uri}\n`),
    DELIM,
    encodePktLine('packfile\n'),
    encodePktLine(Buffer.concat([Buffer.from([1]), emptyPack()])),
    encodeFlush(),
  ];
}

/**
 * Writes the first `minBytes` of a pack; if it ends there, it goes inline as usual. Past that,
 * the whole pack is uploaded as it is written (memory holds the first chunks and the upload's parts), and
 * the answer names it in a `packfile-uris` section, by the pack's own checksum, which git checks
 * against the pack it downloads. The inline `packfile` section then carries an empty pack.
 */
export async function sendPack(pack: Iterable<Buffer>, uploads: PackUploads, reuseKey: string): Promise<PackDelivery> {
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
  const { object, uri } = await uploads.upload(Readable.from(whole(), { objectMode: false }), reuseKey);
  const checksum = tail.toString('hex');
  return { kind: 'uri', sections: packUriSections(checksum, uri), bytes, checksum, object };
}
