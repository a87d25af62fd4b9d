export interface GeoErrorOptions {
  /** The lower-level error that caused this one. */
  readonly cause?: unknown;
  /** Context an operator or caller needs to act on the error. Never secrets. */
  readonly data?: Readonly<Record<string, unknown>>;
}

/**
 * Base of every error git-geo raises on purpose. `code` is stable and safe to match on;
 * `status` is what an HTTP edge answers; `retryable` tells transient from permanent.
 */
export abstract class GeoError extends Error {
  abstract readonly code: string;
  readonly status: number = 500;
  readonly retryable: boolean = false;
  readonly data: Readonly<Record<string, unknown>>;

  constructor(message: string, options: GeoErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.data = options.data ?? {};
  }

  /** What logs and APIs show: the code, the message, the context and the chain of causes. */
  toJSON(): { code: string; message: string; data: Readonly<Record<string, unknown>>; cause?: unknown } {
    const cause = this.cause;
    const described =
      cause instanceof GeoError
        ? cause.toJSON()
        : cause instanceof Error
          ? { name: cause.name, message: cause.message, stack: cause.stack?.split('\n').slice(0, 6).join('\n') }
          : cause;
    return { code: this.code, message: this.message, data: this.data, ...(cause === undefined ? {} : { cause: described }) };
  }
}
