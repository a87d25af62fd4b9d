import { createHash } from 'node:crypto';
import type { WebhookRequest } from './WebhookSource.ts';

/** The first delivery header present, else a digest of the body (identical bodies are one delivery). */
export function deliveryId(request: WebhookRequest, headerNames: readonly string[]): string {
  for (const name of headerNames) {
    const value = request.headers[name]?.trim();
    if (value) return value.slice(0, 200);
  }
  return `sha256:${createHash('sha256').update(request.body).digest('hex')}`;
}
