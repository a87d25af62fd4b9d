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
    return describeGeoError(this, 0);
  }
}

/** Deeper causes are cut off, so a cycle of causes cannot recurse forever. */
const MAX_CAUSE_DEPTH = 8;

function describeGeoError(error: GeoError, depth: number): ReturnType<GeoError['toJSON']> {
  const cause = error.cause;
  return { code: error.code, message: error.message, data: error.data, ...(cause === undefined ? {} : { cause: describeCause(cause, depth + 1) }) };
}

/** GeoErrors as toJSON shows them, other Errors by name, message, a short stack and their own cause; anything else as it is. */
function describeCause(cause: unknown, depth: number): unknown {
  if (depth > MAX_CAUSE_DEPTH) return '[cause chain truncated]';
  if (cause instanceof GeoError) return describeGeoError(cause, depth);
  if (cause instanceof Error) {
    const stack: unknown = cause.stack;
    const inner: unknown = cause.cause;
    return {
      name: cause.name,
      message: cause.message,
      stack: typeof stack === 'string' ? stack.split('\n').slice(0, 6).join('\n') : undefined,
      ...(inner === undefined ? {} : { cause: describeCause(inner, depth + 1) }),
    };
  }
  return cause;
}
