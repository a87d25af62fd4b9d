import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { LfsIntegrityError } from '../errors/index.ts';
import type { LfsObjectId } from './LfsPointer.ts';

/**
 * Passes an LFS object's bytes through while hashing them, and holds back the last chunk
 * until the whole content has been checked: SHA-256 and size must match the oid, or the
 * stream errors before its end and a consumer (an S3 upload) stores nothing. Bytes past the
 * expected size fail at once.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private held: Buffer | undefined;
  private bytes = 0;

  constructor(private readonly expected: LfsObjectId) {
    super();
  }

  /** Bytes seen so far. */
  get received(): number {
    return this.bytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expected.size) {
      callback(this.mismatch(`more than the ${this.expected.size} bytes its pointer names`));
      return;
    }
    this.hash.update(chunk);
    const previous = this.held;
    this.held = chunk;
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    if (this.bytes !== this.expected.size) {
      callback(this.mismatch(`${this.bytes} bytes, not the ${this.expected.size} its pointer names`));
      return;
    }
    const actual = this.hash.digest('hex');
    if (actual !== this.expected.oid) {
      callback(this.mismatch(`content hashes to ${actual}`));
      return;
    }
    callback(null, this.held);
  }

  private mismatch(what: string): LfsIntegrityError {
    return new LfsIntegrityError(`LFS object ${this.expected.oid}: ${what}`, { data: { oid: this.expected.oid, size: this.expected.size, received: this.bytes } });
  }
}

/** Hashes a stream to the end: whether it is exactly this object. */
export async function matchesObject(body: AsyncIterable<Uint8Array>, expected: LfsObjectId): Promise<boolean> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes > expected.size) return false;
    hash.update(chunk);
  }
  return bytes === expected.size && hash.digest('hex') === expected.oid;
}
