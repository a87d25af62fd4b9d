import { mkdtempSync, rmSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { LimitExceededError, ProtocolError } from '../shared/errors/index.ts';
import { FilePackBytes } from '../shared/git/pack/PackBytes.ts';
import { ObjectCache, PackSet } from '../shared/git/pack/PackSet.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';

/** The entry, moved to the most recently used end of the map. */
function recent<K, V>(map: Map<K, V>, key: K): V | undefined {
  const value = map.get(key);
  if (value === undefined) return undefined;
  map.delete(key);
  map.set(key, value);
  return value;
}

/** Pack sets kept between requests (they share one cache of inflated objects). */
const KEPT_PACK_SETS = 2;
/** Inflated objects kept per instance, shared by every pack set: a set after a sync starts warm. */
export const OBJECT_CACHE_BYTES = 64 * 2 ** 20;

export interface PackCacheSettings {
  /** Most pack bytes kept on local disk (Lambda's /tmp), least recently used out. */
  readonly maxDiskBytes: number;
  /** Most index bytes kept in memory, least recently used out. */
  readonly maxIndexBytes: number;
  /** @default a fresh directory under the OS's temporary one, removed when the process exits */
  readonly dir?: string;
}

/**
 * A function instance's copies of mirror packs, so that memory stays bounded whatever a
 * repository's size: pack indexes in memory (about 28 bytes an object), packs on local disk,
 * read by range where a request needs an object. Packs are named by content and never change,
 * so a copy is good for as long as the instance lives, and shared between repositories.
 * One request at a time per instance, as Lambda runs them.
 */
export class MirrorPackCache {
  private readonly indexes = new Map<string, Buffer>();
  private indexBytes = 0;
  private readonly files = new Map<string, FilePackBytes>();
  private diskBytes = 0;
  /**
   * The last few pack sets, by their packs: a negotiation is several requests, and a CI fleet
   * fetches the same repository over and over; a set keeps its cache of inflated objects.
   */
  private readonly sets = new Map<string, PackSet>();
  private readonly objects = new ObjectCache(OBJECT_CACHE_BYTES);
  private dir: string | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly settings: PackCacheSettings,
  ) {
    this.dir = settings.dir;
  }

  /** Where packs go: made on the first download, and removed when the process exits. */
  private directory(): string {
    if (this.dir === undefined) {
      const dir = mkdtempSync(join(tmpdir(), 'git-geo-packs-'));
      process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
      this.dir = dir;
    }
    return this.dir;
  }

  /** Bytes of packs on disk now, for metrics and tests. */
  get cachedDiskBytes(): number {
    return this.diskBytes;
  }

  /** A pack's index (`key` is the pack's key without `.pack`). */
  async index(key: string): Promise<Buffer> {
    const cached = recent(this.indexes, key);
    if (cached !== undefined) return cached;
    const idx = await this.store.get(`${key}.idx`);
    if (idx === undefined) throw new ProtocolError('a listed pack has no index', { data: { key } });
    this.indexes.set(key, idx);
    this.indexBytes += idx.length;
    for (const [oldest, value] of this.indexes) {
      if (this.indexBytes <= this.settings.maxIndexBytes || oldest === key) break;
      this.indexes.delete(oldest);
      this.indexBytes -= value.length;
    }
    return idx;
  }

  /** The packs, with their indexes, readable by object id. */
  async packSet(keys: readonly string[]): Promise<PackSet> {
    const id = keys.join('\n');
    const known = recent(this.sets, id);
    if (known !== undefined) return known;
    const inUse = new Set(keys);
    const packs: { pack: FilePackBytes; idx: Buffer }[] = [];
    for (const key of keys) packs.push({ idx: await this.index(key), pack: await this.pack(key, inUse) });
    const set = new PackSet(packs, this.objects);
    this.sets.set(id, set);
    for (const oldest of this.sets.keys()) {
      if (this.sets.size <= KEPT_PACK_SETS) break;
      this.sets.delete(oldest);
    }
    return set;
  }

  private async pack(key: string, inUse: ReadonlySet<string>): Promise<FilePackBytes> {
    const cached = recent(this.files, key);
    if (cached !== undefined) return cached;
    const stored = await this.store.stream(`${key}.pack`);
    if (stored === undefined) throw new ProtocolError('a listed pack is missing', { data: { key } });
    if (stored.size > this.settings.maxDiskBytes) {
      stored.body.destroy();
      throw new LimitExceededError(`a pack of ${stored.size} bytes is larger than this endpoint's pack cache (${this.settings.maxDiskBytes} bytes)`, {
        data: { key, bytes: stored.size },
      });
    }
    this.evict(stored.size, inUse);
    const path = join(this.directory(), `${basename(key)}.pack`);
    const partial = `${path}.part`;
    try {
      await pipeline(stored.body, createWriteStream(partial));
      await rename(partial, path);
    } catch (error) {
      await unlink(partial).catch(() => undefined);
      throw error;
    }
    const file = new FilePackBytes(path, stored.size);
    this.files.set(key, file);
    this.diskBytes += stored.size;
    return file;
  }

  /** Makes room for `bytes` more, dropping least recently used packs the current request does not use. */
  private evict(bytes: number, inUse: ReadonlySet<string>): void {
    for (const [key, file] of this.files) {
      if (this.diskBytes + bytes <= this.settings.maxDiskBytes) return;
      if (inUse.has(key)) continue;
      file.close();
      rmSync(file.path, { force: true });
      this.files.delete(key);
      for (const id of [...this.sets.keys()]) if (id.split('\n').includes(key)) this.sets.delete(id);
      this.diskBytes -= file.length;
    }
    if (this.diskBytes + bytes > this.settings.maxDiskBytes) {
      throw new LimitExceededError(`this repository's packs are larger than this endpoint's pack cache (${this.settings.maxDiskBytes} bytes)`, { data: { bytes } });
    }
  }
}
