import type { Writable } from 'node:stream';

/** The Lambda Node.js runtime marks streaming handlers with this symbol and value. */
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';

/** Content type of a stream that starts with an HTTP metadata prelude, as the runtime sets it. */
export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
/** Eight zero bytes end the prelude. */
export const PRELUDE_DELIMITER = Buffer.alloc(8);

/** The stream the runtime hands a streaming handler. */
export interface RuntimeResponseStream extends Writable {
  setContentType(contentType: string): void;
}

interface AwsLambdaGlobal {
  streamifyResponse<T extends object>(handler: T): T;
  HttpResponseStream: { from(stream: RuntimeResponseStream, prelude: Record<string, unknown>): RuntimeResponseStream };
}

/**
 * Installs the `awslambda` global that the Lambda Node.js runtime provides, so handlers that
 * stream their responses (directly or through middy's streamifyResponse) run in-process.
 * Both parts behave as the runtime's do: `streamifyResponse` marks the handler, and
 * `HttpResponseStream.from` sets the prelude content type and writes the JSON prelude
 * (status, headers, cookies) followed by eight zero bytes, which the Function URL strips.
 */
export function installAwsLambdaGlobal(): void {
  // Other libraries keep state on the same global (the invoke store): add to it, never replace it.
  const scope = globalThis as { awslambda?: Partial<AwsLambdaGlobal> };
  const global = (scope.awslambda ??= {});
  global.streamifyResponse ??= (handler) => {
    (handler as Record<symbol, unknown>)[HANDLER_STREAMING] = STREAM_RESPONSE;
    return handler;
  };
  global.HttpResponseStream ??= {
    from(stream, prelude) {
      stream.setContentType(PRELUDE_CONTENT_TYPE);
      stream.write(JSON.stringify(prelude));
      stream.write(PRELUDE_DELIMITER);
      return stream;
    },
  };
}

export function isStreamingHandler(handler: unknown): boolean {
  return typeof handler === 'function' && (handler as unknown as Record<symbol, unknown>)[HANDLER_STREAMING] === STREAM_RESPONSE;
}
