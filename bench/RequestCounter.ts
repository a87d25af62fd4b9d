import type { AbsoluteLocation, DeserializeHandlerOptions, DeserializeMiddleware } from '@smithy/types';
import type { AnyClientPlugin } from '../lambdas/shared/aws/HandlerHooks.ts';

/** Requests of one operation (S3 PutObject, DynamoDB UpdateItem, ...) and the bytes they moved. */
export interface OperationCount {
  requests: number;
  errors: number;
  bytesSent: number;
  bytesReceived: number;
  /** Time spent waiting for responses, summed over requests. */
  milliseconds: number;
}

/** `scope -> service -> operation -> count`; a scope is whatever the caller names (`sync@eu-west-1`). */
export type RequestCounts = Record<string, Record<string, Record<string, OperationCount>>>;

/** S3 operations that list keys: they are reported separately (they cost more and scale with the bucket). */
export const LIST_OPERATIONS = new Set(['ListObjects', 'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads', 'ListParts']);

const OPTIONS: DeserializeHandlerOptions & AbsoluteLocation = {
  step: 'deserialize',
  // Below the SDK's deserializer: every HTTP attempt is seen (retries too), with its raw response.
  priority: 'low',
  name: 'gitGeoRequestCounter',
};

function headerBytes(headers: Record<string, string> | undefined): number {
  const value = headers?.['content-length'] ?? headers?.['Content-Length'];
  const bytes = Number(value ?? 0);
  return Number.isFinite(bytes) ? bytes : 0;
}

/**
 * Counts every request AWS SDK clients send, with an SDK middleware on the real clients
 * (applied through the handlers' `clientPlugins` hook). Nothing is stubbed: the request
 * still goes to the endpoint; the middleware only looks at it and at the raw response.
 */
/**
 * A function's scope: its short name from its handler factory (`…#createNotifyHandler` becomes
 * `notify`) and its region, so each function's requests are counted apart.
 */
export function functionScope(fn: { readonly factory: string; readonly region: string }): string {
  const name = /create(\w+?)Handler$/.exec(fn.factory)?.[1];
  return `${name === undefined ? fn.factory : name.charAt(0).toLowerCase() + name.slice(1)}@${fn.region}`;
}

export class RequestCounter {
  private counts: RequestCounts = {};

  /** An SDK plugin that counts the requests of every client it is applied to under `scope`. */
  plugin(scope: string): AnyClientPlugin {
    const middleware: DeserializeMiddleware<object, object> = (next, context) => async (args) => {
      const service = (context.clientName ?? 'unknown').replace(/Client$/, '');
      const operation = (context.commandName ?? 'unknown').replace(/Command$/, '');
      const count = this.entry(scope, service, operation);
      count.requests++;
      count.bytesSent += headerBytes((args.request as { headers?: Record<string, string> }).headers);
      const started = performance.now();
      try {
        const result = await next(args);
        count.milliseconds += performance.now() - started;
        const response = result.response as { statusCode?: number; headers?: Record<string, string> };
        count.bytesReceived += headerBytes(response.headers);
        if ((response.statusCode ?? 200) >= 400) count.errors++;
        return result;
      } catch (error) {
        count.milliseconds += performance.now() - started;
        count.errors++;
        throw error;
      }
    };
    return { applyToStack: (stack) => stack.add(middleware, OPTIONS) };
  }

  /** Everything counted since the last reset. */
  snapshot(): RequestCounts {
    return structuredClone(this.counts);
  }

  reset(): void {
    this.counts = {};
  }

  private entry(scope: string, service: string, operation: string): OperationCount {
    const byService = (this.counts[scope] ??= {});
    const byOperation = (byService[service] ??= {});
    return (byOperation[operation] ??= { requests: 0, errors: 0, bytesSent: 0, bytesReceived: 0, milliseconds: 0 });
  }
}
