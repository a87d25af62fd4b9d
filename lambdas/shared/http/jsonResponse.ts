import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { GeoError, RetryLaterError } from '../errors/index.ts';

export function jsonResponse(statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: `${JSON.stringify(body)}\n`,
  };
}

/**
 * Maps an error to an HTTP answer: a GeoError below 500 tells the caller what was wrong;
 * anything else is a bare 5xx with no details, since those may hold internals.
 */
export function errorResponse(error: unknown): APIGatewayProxyStructuredResultV2 {
  if (error instanceof RetryLaterError) {
    // Throttled or busy: the caller retries after this long; nothing was recorded or lost. A 5xx's context may hold internals.
    const details = error.status < 500 ? error.data : { retryAfterSeconds: error.retryAfterSeconds };
    const response = jsonResponse(error.status, { error: error.code, message: error.message, ...details });
    return { ...response, headers: { ...response.headers, 'retry-after': String(error.retryAfterSeconds) } };
  }
  if (error instanceof GeoError && error.status < 500) {
    return jsonResponse(error.status, { error: error.code, message: error.message, ...error.data });
  }
  if (error instanceof GeoError) {
    return jsonResponse(error.status, { error: error.code, message: 'git-geo could not handle this request; see its logs' });
  }
  return jsonResponse(500, { error: 'ERR_INTERNAL', message: 'git-geo could not handle this request; see its logs' });
}
