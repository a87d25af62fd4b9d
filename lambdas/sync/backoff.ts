/** Retry delay after `attempt` consecutive failures: 10 s doubling, capped at SQS's 12 h visibility limit. */
export function backoffSeconds(attempt: number, baseSeconds = 10, maxSeconds = 12 * 3600 - 1): number {
  const exponent = Math.max(0, Math.min(attempt - 1, 20));
  return Math.min(maxSeconds, baseSeconds * 2 ** exponent);
}
