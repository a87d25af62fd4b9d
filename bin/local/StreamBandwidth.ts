import { setTimeout as sleep } from 'node:timers/promises';
import { LAMBDA_STREAMING } from '../../lambdas/endpoint/limits.ts';

/** What Lambda allows a streamed Function URL response (Lambda developer guide, "Bandwidth limits for response streaming"). */
export interface StreamLimits {
  /** The first bytes go uncapped. */
  readonly burstBytes: number;
  /** After them, at most this many bytes a second. */
  readonly bytesPerSecond: number;
  /** Lambda ends the response here. */
  readonly maxBytes: number;
}

/** Lambda's figures, as the endpoint's limits name them. */
export const LAMBDA_STREAM_LIMITS: StreamLimits = LAMBDA_STREAMING;

/** Time as the throttle sees it; tests pass a virtual one. */
export interface StreamClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const REAL_CLOCK: StreamClock = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

/** One slice of a response the throttle lets through: how many of its bytes, and after how long. */
export interface Admission {
  /** Bytes of the slice that may go (fewer than asked only at the cap). */
  readonly bytes: number;
  /** Wait this long before sending them. */
  readonly waitMs: number;
  /** The response has reached its cap: after these bytes Lambda cuts it. */
  readonly cut: boolean;
}

/**
 * The schedule Lambda streams a response on: the first `burstBytes` at once, then a steady
 * `bytesPerSecond` counted from the moment the burst was used up, and nothing past `maxBytes`.
 * A slice may go when the schedule has room for its last byte.
 */
export class StreamBandwidth {
  private sent = 0;
  private throttledSince: number | undefined;

  constructor(
    private readonly limits: StreamLimits = LAMBDA_STREAM_LIMITS,
    private readonly clock: Pick<StreamClock, 'now'> = REAL_CLOCK,
  ) {}

  get bytesSent(): number {
    return this.sent;
  }

  admit(size: number): Admission {
    const bytes = Math.max(0, Math.min(size, this.limits.maxBytes - this.sent));
    const cut = bytes < size;
    const end = this.sent + bytes;
    this.sent = end;
    if (end <= this.limits.burstBytes) return { bytes, waitMs: 0, cut };
    const now = this.clock.now();
    this.throttledSince ??= now;
    const due = this.throttledSince + ((end - this.limits.burstBytes) / this.limits.bytesPerSecond) * 1000;
    return { bytes, waitMs: Math.max(0, due - now), cut };
  }
}
