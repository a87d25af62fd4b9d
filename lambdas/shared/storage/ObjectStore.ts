export interface StoredObjectInfo {
  readonly key: string;
  readonly size: number;
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
  head(key: string): Promise<StoredObjectInfo | undefined>;
  put(key: string, body: Uint8Array | string, options?: PutOptions): Promise<void>;
  /** Server-side copy: no bytes pass through the caller. */
  copy(fromKey: string, toKey: string): Promise<void>;
  delete(keys: readonly string[]): Promise<void>;
  list(prefix: string): AsyncIterable<StoredObjectInfo>;
}
