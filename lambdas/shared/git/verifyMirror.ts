import { createHash } from 'node:crypto';
import { GeoError } from '../errors/index.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import type { ObjectStore, StoredObjectInfo } from '../storage/ObjectStore.ts';
import { parseInfoRefs } from './infoRefs.ts';
import { BARE_CONFIG, mirrorPrefix } from './MirrorRepository.ts';
import { formatPackedRefs } from './packedRefs.ts';
import { parsePacksList } from './packsList.ts';
import { parseObjectLinks, type ObjectLinks } from './objects/parseObjectLinks.ts';
import { PackIndex } from './pack/PackIndex.ts';
import { PackIndexer } from './pack/PackIndexer.ts';
import type { ObjectType } from './pack/readEntryHeader.ts';
import { refsChecksum, type RefSnapshot } from './RefSnapshot.ts';
import { VERIFIED_PACKS_PREFIX } from './verifiedPacksPrefix.ts';

// Where a pack's deep verification is remembered, outside every mirror's prefix.
export { VERIFIED_PACKS_PREFIX };

export type MirrorProblemCode =
  | 'repository-files'
  | 'refs-missing'
  | 'refs-unreadable'
  | 'refs-inconsistent'
  | 'pack-list-missing'
  | 'pack-missing'
  | 'idx-missing'
  | 'pack-corrupt'
  | 'idx-corrupt'
  | 'object-missing'
  | 'ref-target-missing';

export interface MirrorProblem {
  readonly code: MirrorProblemCode;
  readonly message: string;
  readonly pack?: string;
  readonly ref?: string;
}

export interface MirrorVerification {
  readonly ok: boolean;
  readonly problems: readonly MirrorProblem[];
  /** The refs the mirror serves (info/refs and HEAD), when readable. */
  readonly snapshot: RefSnapshot | undefined;
  readonly refsChecksum: string | undefined;
  /** Packs listed in objects/info/packs. */
  readonly packs: readonly string[];
  /** Packs whose bytes were read and hashed this time (the others were remembered). */
  readonly packsHashed: number;
  readonly bytesHashed: number;
  /** Objects in the mirror's packs (from their indexes). */
  readonly objects: number;
  /** Whether the object graph was checked (deep), or only the refs and the files' presence. */
  readonly deep: boolean;
}

export interface VerifyMirrorOptions {
  /** Hash every pack (or recall it), check every object's links. @default true */
  readonly deep?: boolean;
  /** Remember verified packs by name, size and ETag, so an unchanged pack is hashed once. @default true */
  readonly remember?: boolean;
}

/** What a verified pack's record says: which bytes were verified, and the links that leave the pack. */
interface VerifiedPackRecord {
  readonly version: 1;
  readonly pack: { readonly size: number; readonly etag?: string };
  readonly idx: { readonly size: number; readonly etag?: string };
  readonly objects: number;
  /** Objects this pack's objects point at that are not in it. */
  readonly external: readonly string[];
}

class PackDamagedError extends GeoError {
  readonly code = 'ERR_PACK_DAMAGED';
}

/** The ids an idx v2 lists, after checking its own checksum and that it indexes `packName`. */
function readIndex(idx: Buffer, packName: string): string[] {
  let index: PackIndex;
  try {
    index = new PackIndex(idx);
  } catch (error) {
    throw new PackDamagedError(`unreadable pack index: ${(error as Error).message}`, { cause: error });
  }
  const body = idx.subarray(0, idx.length - 20);
  if (!createHash('sha1').update(body).digest().equals(idx.subarray(idx.length - 20))) throw new PackDamagedError('index checksum mismatch');
  if (index.packChecksum.toString('hex') !== packName.slice('pack-'.length)) throw new PackDamagedError('index belongs to another pack');
  return Array.from({ length: index.count }, (_, position) => index.oidAt(position).toString('hex'));
}

/** The objects a commit, tree or tag points at (gitlinks are other repositories' commits, left out). */
function linksOf(type: ObjectType, content: Buffer, add: (oid: string) => void): void {
  let links: ObjectLinks;
  try {
    links = parseObjectLinks({ type, data: content });
  } catch (error) {
    throw new PackDamagedError(`malformed ${type} object`, { cause: error });
  }
  for (const oid of [links.tree, links.target, ...links.parents, ...links.entries]) if (oid !== undefined) add(oid.toString('hex'));
}

function sameFile(recorded: { size: number; etag?: string }, actual: StoredObjectInfo): boolean {
  return recorded.size === actual.size && recorded.etag !== undefined && recorded.etag === actual.etag;
}

/**
 * Proves a mirror is whole, from the bucket alone: its refs are readable and agree with each
 * other (info/refs, packed-refs, HEAD), every listed pack and index is there, and, deep:
 * every pack's bytes hash to its name (git's trailer SHA-1), its index is byte for byte the
 * index of those bytes (so every object's id, offset and CRC-32 is as the index says, and the
 * index checksum holds), and every object any object points at, and every ref's tip, is in
 * some pack: each ref's whole object graph is present. Content, never sizes.
 *
 * Packs are immutable and named by their content, so a pack verified once is remembered (by
 * name, size and ETag, under VERIFIED_PACKS_PREFIX, with the links that leave it) and later
 * runs read only its index. A changed byte changes the ETag, and the pack is hashed again.
 *
 * Reusable on its own: it needs only an ObjectStore holding `<repository>.git/`.
 */
export async function verifyMirror(store: ObjectStore, repository: RepositoryPath, options: VerifyMirrorOptions = {}): Promise<MirrorVerification> {
  const deep = options.deep ?? true;
  const remember = options.remember ?? true;
  const prefix = mirrorPrefix(repository);
  const problems: MirrorProblem[] = [];
  const [headFile, infoRefsFile, packedRefsFile, packsFile, configFile, refsDir] = await Promise.all([
    store.get(`${prefix}HEAD`),
    store.get(`${prefix}info/refs`),
    store.get(`${prefix}packed-refs`),
    store.get(`${prefix}objects/info/packs`),
    store.get(`${prefix}config`),
    store.head(`${prefix}refs/heads/.keep`),
  ]);
  // A download of the prefix must be a bare repository git recognises: its config, and a refs/ directory.
  if (configFile?.toString('utf8') !== BARE_CONFIG || refsDir === undefined) {
    problems.push({ code: 'repository-files', message: configFile === undefined ? 'config is missing' : refsDir === undefined ? 'refs/heads/.keep is missing' : 'config is not a bare mirror\'s' });
  }
  let snapshot: RefSnapshot | undefined;
  if (headFile === undefined || infoRefsFile === undefined) {
    problems.push({ code: 'refs-missing', message: `${headFile === undefined ? 'HEAD' : 'info/refs'} is missing` });
  } else {
    const headText = headFile.toString('utf8').trim();
    try {
      if (!headText.startsWith('ref: refs/')) throw new Error(`HEAD is not a symbolic ref: ${headText.slice(0, 80)}`);
      snapshot = parseInfoRefs(infoRefsFile.toString('utf8'), headText.slice(5));
    } catch (error) {
      problems.push({ code: 'refs-unreadable', message: (error as Error).message });
    }
  }
  if (snapshot !== undefined && (packedRefsFile === undefined || packedRefsFile.toString('utf8') !== formatPackedRefs(snapshot))) {
    problems.push({ code: 'refs-inconsistent', message: 'packed-refs does not agree with info/refs' });
  }
  if (packsFile === undefined && (snapshot?.refs.size ?? 0) > 0) problems.push({ code: 'pack-list-missing', message: 'objects/info/packs is missing' });
  const packs = parsePacksList(packsFile?.toString('utf8') ?? '');

  const files = new Map<string, StoredObjectInfo>();
  for await (const info of store.list(`${prefix}objects/pack/`)) files.set(info.key.slice(prefix.length + 'objects/pack/'.length), info);

  const present = new Set<string>();
  const external = new Set<string>();
  let packsHashed = 0;
  let bytesHashed = 0;
  for (const name of packs) {
    const packInfo = files.get(`${name}.pack`);
    const idxInfo = files.get(`${name}.idx`);
    if (packInfo === undefined) problems.push({ code: 'pack-missing', pack: name, message: `${name}.pack is listed but missing` });
    if (idxInfo === undefined) problems.push({ code: 'idx-missing', pack: name, message: `${name}.idx is listed but missing` });
    if (packInfo === undefined || idxInfo === undefined) continue;
    const idx = await store.get(`${prefix}objects/pack/${name}.idx`);
    let oids: string[];
    try {
      oids = readIndex(idx ?? Buffer.alloc(0), name);
    } catch (error) {
      problems.push({ code: 'idx-corrupt', pack: name, message: `${name}.idx: ${(error as Error).message}` });
      continue;
    }
    for (const oid of oids) present.add(oid);
    if (!deep) continue;
    const recordKey = `${VERIFIED_PACKS_PREFIX}${prefix}${name}.json`;
    const recorded = remember ? await readRecord(store, recordKey) : undefined;
    if (recorded !== undefined && sameFile(recorded.pack, packInfo) && sameFile(recorded.idx, idxInfo) && recorded.objects === oids.length) {
      for (const oid of recorded.external) external.add(oid);
      continue;
    }
    packsHashed++;
    const links = new Set<string>();
    try {
      const body = await store.stream(`${prefix}objects/pack/${name}.pack`);
      if (body === undefined) throw new PackDamagedError('pack vanished while being verified');
      const indexer = new PackIndexer(undefined, (type, _oid, content) => linksOf(type, content, (oid) => links.add(oid)));
      for await (const chunk of body.body) {
        indexer.write(chunk as Buffer);
        bytesHashed += (chunk as Buffer).length;
      }
      const indexed = indexer.finish();
      if (indexed.name !== name) throw new PackDamagedError(`pack content hashes to ${indexed.name}`);
      if (!indexed.idx.equals(idx!)) throw new PackDamagedError('index does not match the pack (ids, offsets or CRC-32s differ)');
    } catch (error) {
      problems.push({ code: 'pack-corrupt', pack: name, message: `${name}.pack: ${(error as Error).message}` });
      continue;
    }
    const own = new Set(oids);
    const leaving = [...links].filter((oid) => !own.has(oid));
    for (const oid of leaving) external.add(oid);
    if (remember) {
      const record: VerifiedPackRecord = {
        version: 1,
        pack: { size: packInfo.size, ...(packInfo.etag === undefined ? {} : { etag: packInfo.etag }) },
        idx: { size: idxInfo.size, ...(idxInfo.etag === undefined ? {} : { etag: idxInfo.etag }) },
        objects: oids.length,
        external: leaving,
      };
      await store.put(recordKey, JSON.stringify(record), { contentType: 'application/json' });
    }
  }

  const packsWhole = !problems.some((problem) => problem.pack !== undefined);
  if (snapshot !== undefined && packsWhole) {
    for (const [ref, oid] of snapshot.refs) {
      if (!present.has(oid)) problems.push({ code: 'ref-target-missing', ref, message: `${ref} points at ${oid}, which no pack holds` });
    }
    for (const [ref, oid] of snapshot.peeled) {
      if (!present.has(oid)) problems.push({ code: 'ref-target-missing', ref, message: `${ref}^{} points at ${oid}, which no pack holds` });
    }
    if (deep) {
      const missing = [...external].filter((oid) => !present.has(oid));
      if (missing.length > 0) {
        problems.push({ code: 'object-missing', message: `${missing.length} object(s) are pointed at but in no pack, e.g. ${missing.slice(0, 3).join(', ')}` });
      }
    }
  }
  return {
    ok: problems.length === 0,
    problems,
    snapshot,
    refsChecksum: snapshot === undefined ? undefined : refsChecksum(snapshot),
    packs,
    packsHashed,
    bytesHashed,
    objects: present.size,
    deep,
  };
}

async function readRecord(store: ObjectStore, key: string): Promise<VerifiedPackRecord | undefined> {
  const body = await store.get(key);
  if (body === undefined) return undefined;
  try {
    const record = JSON.parse(body.toString('utf8')) as VerifiedPackRecord;
    return record.version === 1 && Array.isArray(record.external) ? record : undefined;
  } catch {
    return undefined;
  }
}
