import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { PRELUDE_CONTENT_TYPE, PRELUDE_DELIMITER, type RuntimeResponseStream } from './awslambdaGlobal.ts';
import { LAMBDA_STREAM_LIMITS, REAL_CLOCK, StreamBandwidth, type StreamClock, type StreamLimits } from './StreamBandwidth.ts';

/** Slices a body is paced in, so the throttle's rate holds within a big chunk too. */
const SLICE_BYTES = 64 * 1024;

export interface ResponseStreamOptions {
  /** @default Lambda's: 6 MB uncapped, then 2 MB/s, cut at 200 MB */
  readonly limits?: StreamLimits;
  readonly clock?: StreamClock;
  /** Told when the response reached the cap and was cut, as Lambda does. */
  readonly onCut?: (bytes: number) => void;
}

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
 * The body goes at Lambda's pace: its first 6 MB at once, then 2 MB/s, and the connection is
 * cut after 200 MB, so what is measured locally is what a client of AWS would see.
 */
export class LocalResponseStream extends Writable implements RuntimeResponseStream {
  private contentType = 'application/octet-stream';
  private pending = Buffer.alloc(0);
  private started = false;
  private readonly bandwidth: StreamBandwidth;
  private readonly clock: StreamClock;

  constructor(
    private readonly res: ServerResponse,
    private readonly options: ResponseStreamOptions = {},
  ) {
    super();
    this.clock = options.clock ?? REAL_CLOCK;
    this.bandwidth = new StreamBandwidth(options.limits ?? LAMBDA_STREAM_LIMITS, this.clock);
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
    this.send(body).then(() => callback(), callback);
  }

  private async drained(): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        this.res.off('drain', done);
        this.res.off('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  /** Writes the body in slices, each when Lambda's schedule lets it go; past the cap, cuts the connection. */
  private async send(body: Buffer): Promise<void> {
    for (let offset = 0; offset < body.length; offset += SLICE_BYTES) {
      const slice = body.subarray(offset, offset + SLICE_BYTES);
      const { bytes, waitMs, cut } = this.bandwidth.admit(slice.length);
      if (waitMs > 0) await this.clock.sleep(waitMs);
      if (bytes > 0 && !this.res.write(slice.subarray(0, bytes))) await this.drained();
      if (cut) {
        this.options.onCut?.(this.bandwidth.bytesSent);
        this.res.destroy();
        throw new Error(`the response reached Lambda's streaming limit of ${this.bandwidth.bytesSent} bytes and was cut`);
      }
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.started) {
      this.res.writeHead(200, { 'content-type': this.contentType === PRELUDE_CONTENT_TYPE ? 'application/octet-stream' : this.contentType });
      this.started = true;
    }
    this.res.end(() => callback());
  }
}
