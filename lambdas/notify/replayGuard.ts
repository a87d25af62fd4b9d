import { createHash } from 'node:crypto';
import type { ChangeSource } from '../shared/events/ChangeEvent.ts';
import { GENERIC_HEADERS } from './hosts/generic.ts';
import type { WebhookRequest } from './hosts/WebhookSource.ts';

/** notify's guard against replayed and runaway deliveries (GeoConfig.webhookReplayWindowSeconds, maxEventsPerRepositoryPerSecond). */
export interface ReplayGuardSettings {
  /** A delivery of signed content already recorded this recently, under another delivery id, is a replay: answered 200, not recorded. */
  readonly replayWindowSeconds: number;
  /** Events one repository may record in one second; past it a 429 with Retry-After. */
  readonly maxEventsPerRepositoryPerSecond: number;
}

/**
 * What identifies a delivery's signed content, whatever delivery id it carries: the host, and a
 * digest of what its signature covers. A host's delivery id is not signed (GitHub's, GitLab's,
 * Gitea's headers), so a captured delivery resent with a new id is the same content; git-geo's own
 * format signs its timestamp with the body, so it is part of the content there.
 */
export function signedContentKey(source: ChangeSource, request: WebhookRequest): string {
  const digest = createHash('sha256');
  if (source === 'generic') digest.update(`${request.headers[GENERIC_HEADERS.timestamp]?.trim() ?? ''}.`);
  digest.update(request.body);
  return `${source}:${digest.digest('base64url')}`;
}
