import { describe, expect, it } from '@jest/globals';
import { BusyError, RateLimitedError } from '../../lambdas/shared/errors/index.ts';
import { errorResponse } from '../../lambdas/shared/http/jsonResponse.ts';

describe('errorResponse for refusals to retry later', () => {
  it('a rate limit is a 429 with Retry-After and its context', () => {
    const response = errorResponse(new RateLimitedError('too many events for group/project', 1, { data: { repository: 'group/project' } }));
    expect(response.statusCode).toBe(429);
    expect(response.headers?.['retry-after']).toBe('1');
    expect(JSON.parse(response.body!)).toEqual({ error: 'ERR_RATE_LIMITED', message: 'too many events for group/project', repository: 'group/project', retryAfterSeconds: 1 });
  });

  it('busy is a 503 with Retry-After, and its context (which may hold internals) stays out of the answer', () => {
    const response = errorResponse(new BusyError('event log throttled', 5, { data: { table: 'internal-table-name' } }));
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['retry-after']).toBe('5');
    expect(JSON.parse(response.body!)).toEqual({ error: 'ERR_BUSY', message: 'event log throttled', retryAfterSeconds: 5 });
  });
});
