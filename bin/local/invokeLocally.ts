import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LocalLambda } from './LocalLambda.ts';

/** Where the Lambda API takes invocations: `/2015-03-31/functions/<name>/invocations`. */
export const INVOKE_PATH = '/2015-03-31/functions/';

/**
 * Lambda's Invoke, RequestResponse only, for the runtime's own functions: the payload is the
 * event, the answer the function's result; a function error answers 200 with
 * X-Amz-Function-Error, as Lambda does.
 */
export async function invokeLocally(lambdas: ReadonlyMap<string, LocalLambda>, req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer): Promise<void> {
  const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
  const name = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]).replace(/^arn:aws:lambda:[^:]+:\d+:function:/, '');
  const lambda = name === undefined ? undefined : lambdas.get(name);
  if (req.method !== 'POST' || lambda === undefined) {
    res.setHeader('x-amzn-errortype', 'ResourceNotFoundException');
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ Type: 'User', message: `Function not found: ${name ?? url.pathname}` }));
    return;
  }
  const event = body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as unknown);
  try {
    const result = await lambda.invoke(event);
    res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' }).end(JSON.stringify(result ?? null));
  } catch (error) {
    const failure = error as Error;
    res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' }).end(JSON.stringify({ errorType: failure.name, errorMessage: failure.message }));
  }
}
