import { closeSync, openSync, readSync } from 'node:fs';

/**
 * A pack's bytes, read by range: in memory, or in a file read where needed, so a pack of any
 * size costs only the entries a request touches.
 */
export interface PackBytes {
  readonly length: number;
  /** Bytes `[start, end)`. */
  read(start: number, end: number): Buffer;
}

export function isPackBytes(value: Buffer | PackBytes): value is PackBytes {
  return !Buffer.isBuffer(value);
}

/** A pack held whole in memory. */
export class BufferPackBytes implements PackBytes {
  constructor(private readonly bytes: Buffer) {}

  get length(): number {
    return this.bytes.length;
  }

  read(start: number, end: number): Buffer {
    return this.bytes.subarray(start, end);
  }
}

/** A pack in a local file (Lambda's /tmp), read synchronously by range: the object walk is synchronous. */
export class FilePackBytes implements PackBytes {
  private fd: number | undefined;

  constructor(
    readonly path: string,
    readonly length: number,
  ) {}

  read(start: number, end: number): Buffer {
    const to = Math.min(end, this.length);
    const buffer = Buffer.allocUnsafe(Math.max(0, to - start));
    this.fd ??= openSync(this.path, 'r');
    let done = 0;
    while (done < buffer.length) {
      const read = readSync(this.fd, buffer, done, buffer.length - done, start + done);
      if (read === 0) throw new Error(`${this.path} ends at ${start + done}, before ${to}`);
      done += read;
    }
    return buffer;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
