import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ObjectStore, StoredObjectInfo, StoredObjectStream } from './ObjectStore.ts';

/** An ObjectStore in memory: for unit tests and for staging work before it is published. */
export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, Buffer>();

  get(key: string): Promise<Buffer | undefined> {
    const value = this.objects.get(key);
    return Promise.resolve(value === undefined ? undefined : Buffer.from(value));
  }

  stream(key: string): Promise<StoredObjectStream | undefined> {
    const value = this.objects.get(key);
    return Promise.resolve(value === undefined ? undefined : { key, size: value.length, body: Readable.from([Buffer.from(value)]) });
  }

  head(key: string): Promise<StoredObjectInfo | undefined> {
    const value = this.objects.get(key);
    return Promise.resolve(value === undefined ? undefined : { key, size: value.length, etag: createHash('md5').update(value).digest('hex') });
  }

  put(key: string, body: Uint8Array | string): Promise<void> {
    this.objects.set(key, Buffer.from(body));
    return Promise.resolve();
  }

  async putStream(key: string, body: Readable): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
    this.objects.set(key, Buffer.concat(chunks));
  }

  async copy(fromKey: string, toKey: string): Promise<void> {
    const value = await this.get(fromKey);
    if (value === undefined) throw Object.assign(new Error(`no such key: ${fromKey}`), { name: 'NoSuchKey' });
    this.objects.set(toKey, value);
  }

  async putWithPrefix(key: string, prefix: Uint8Array, sourceKey: string): Promise<void> {
    const source = await this.get(sourceKey);
    if (source === undefined) throw Object.assign(new Error(`no such key: ${sourceKey}`), { name: 'NoSuchKey' });
    this.objects.set(key, Buffer.concat([Buffer.from(prefix), source]));
  }

  delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) this.objects.delete(key);
    return Promise.resolve();
  }

  async *list(prefix: string): AsyncIterable<StoredObjectInfo> {
    const keys = [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
    for (const key of keys) {
      const value = this.objects.get(key) ?? Buffer.alloc(0);
      yield { key, size: value.length, etag: createHash('md5').update(value).digest('hex') };
    }
    await Promise.resolve();
  }
}
