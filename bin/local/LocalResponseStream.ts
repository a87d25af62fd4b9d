import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { PRELUDE_CONTENT_TYPE, PRELUDE_DELIMITER, type RuntimeResponseStream } from './awslambdaGlobal.ts';

interface Prelude {
  readonly statusCode?: number;
  readonly headers?: Record<string, string>;
  readonly cookies?: string[];
}

/**
 * A Function URL in RESPONSE_STREAM mode, on a local HTTP response: what the handler writes
 * goes to the client as it comes, with backpressure. A stream whose content type is the
 * runtime's prelude type starts with the status and headers as JSON, ended by eight zero
 * bytes; otherwise the response is a 200 with the content type the handler set.
 */
export class LocalResponseStream extends Writable implements RuntimeResponseStream {
  private contentType = 'application/octet-stream';
  private pending = Buffer.alloc(0);
  private started = false;

  constructor(private readonly res: ServerResponse) {
    super();
    // A client that goes away stops the handler's pipeline, as the Function URL would.
    // It may happen before the handler pipes anything into this stream: whoever writes later
    // sees a destroyed stream, and the error needs no listener until then.
    res.once('close', () => {
      if (!res.writableFinished && !this.destroyed) this.destroy(new Error('the client closed the connection'));
    });
    this.on('error', () => undefined);
  }

  setContentType(contentType: string): void {
    this.contentType = contentType;
  }

  get headersSent(): boolean {
    return this.started;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let body = chunk;
    if (!this.started) {
      if (this.contentType === PRELUDE_CONTENT_TYPE) {
        this.pending = Buffer.concat([this.pending, chunk]);
        const end = this.pending.indexOf(PRELUDE_DELIMITER);
        if (end < 0) return callback();
        let prelude: Prelude;
        try {
          prelude = JSON.parse(this.pending.subarray(0, end).toString('utf8')) as Prelude;
        } catch (error) {
          return callback(error as Error);
        }
        const headers: Record<string, string | string[]> = { ...prelude.headers };
        if (prelude.cookies?.length) headers['set-cookie'] = prelude.cookies;
        this.res.writeHead(prelude.statusCode ?? 200, headers);
        body = this.pending.subarray(end + PRELUDE_DELIMITER.length);
        this.pending = Buffer.alloc(0);
      } else {
        this.res.writeHead(200, { 'content-type': this.contentType });
      }
      this.started = true;
    }
    if (body.length === 0 || this.res.write(body)) return callback();
    this.res.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.started) {
      this.res.writeHead(200, { 'content-type': this.contentType === PRELUDE_CONTENT_TYPE ? 'application/octet-stream' : this.contentType });
      this.started = true;
    }
    this.res.end(() => callback());
  }
}
