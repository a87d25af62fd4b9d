import type { Readable } from 'node:stream';

export interface StoredObjectInfo {
  readonly key: string;
  readonly size: number;
  /** When it was written, where the store knows (listings from S3 do). */
  readonly lastModified?: Date;
  /** The store's content tag (S3's ETag), when it gives one: a changed object has a changed tag. */
  readonly etag?: string;
}

/** An object opened for reading: its size and a stream of its bytes. */
export interface StoredObjectStream extends StoredObjectInfo {
  readonly body: Readable;
}

export interface PutOptions {
  readonly contentType?: string;
  readonly cacheControl?: string;
}

/**
 * The small storage contract everything above S3 is written against. Keys are
 * relative to the store's root. `get` answers undefined for a missing key.
 */
export interface ObjectStore {
  get(key: string): Promise<Buffer | undefined>;
  /** Opens an object for streaming, so large ones (packs) never sit in memory whole. */
  stream(key: string): Promise<StoredObjectStream | undefined>;
  head(key: string): Promise<StoredObjectInfo | undefined>;
  put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<void>;
  /**
   * Streams a body of any length into an object, holding at most a few parts in memory.
   * A body that errors before its end stores nothing.
   */
  putStream(key: string, body: Readable, options?: PutOptions): Promise<void>;
  /** Server-side copy: no bytes pass through the caller. */
  copy(fromKey: string, toKey: string): Promise<void>;
  /**
   * Writes `prefix` followed by the whole of `sourceKey` as `key`, server-side where the store can
   * (S3: a multipart upload whose first part carries `prefix`, the rest copied by range), so only
   * about one part's bytes pass through the caller. Readers see the whole object or none of it.
   */
  putWithPrefix(key: string, prefix: Uint8Array, sourceKey: string, options?: PutOptions): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  list(prefix: string): AsyncIterable<StoredObjectInfo>;
}
