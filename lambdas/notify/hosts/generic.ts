import { createHmac } from 'node:crypto';
import * as z from 'zod';
import { CHANGE_KINDS } from '../../shared/events/ChangeEvent.ts';
import { AuthenticationError, ValidationError } from '../../shared/errors/index.ts';
import { secureCompare } from '../secureCompare.ts';
import { assertTrustedUrls } from '../trustedHosts.ts';
import { parseWith } from './parseWith.ts';
import type { WebhookSource } from './WebhookSource.ts';

/** How far a generic delivery's timestamp may be from now: a captured request cannot be replayed later. */
export const GENERIC_TOLERANCE_SECONDS = 300;

export const GENERIC_HEADERS = {
  event: 'x-git-geo-event',
  delivery: 'x-git-geo-delivery',
  timestamp: 'x-git-geo-timestamp',
  signature: 'x-git-geo-signature-256',
} as const;

const Body = z
  .object({
    repository: z.string(),
    previousRepository: z.string().optional(),
    changes: z.array(z.object({ ref: z.string(), before: z.string(), after: z.string() }).strict()).optional(),
    defaultBranch: z.string().optional(),
    /** Where the repository lives, if the sender says; it must name a configured primary. */
    url: z.string().optional(),
  })
  .strict();

/** `sha256=<hex>` of HMAC-SHA256(secret, "<timestamp>.<body>"): what a sender puts in X-Git-Geo-Signature-256. */
export function genericSignature(secret: string, timestamp: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

/**
 * git-geo's own signed JSON format, for any git server: the `bin/post-receive` hook sends it, and
 * the README documents it. The signature covers the timestamp and the raw body, and the timestamp
 * must be within five minutes, so a captured delivery cannot be replayed later.
 */
export const generic: WebhookSource = {
  name: 'generic',
  matches: (headers) => headers[GENERIC_HEADERS.event] !== undefined,
  authenticate(request, secret, now) {
    const signature = request.headers[GENERIC_HEADERS.signature]?.trim();
    const timestamp = request.headers[GENERIC_HEADERS.timestamp]?.trim();
    if (!signature) throw new AuthenticationError('missing X-Git-Geo-Signature-256 header');
    if (!timestamp || !/^\d{1,12}$/.test(timestamp)) throw new AuthenticationError('missing or malformed X-Git-Geo-Timestamp header (unix seconds)');
    if (!secureCompare(genericSignature(secret, timestamp, request.body), signature.toLowerCase())) {
      throw new AuthenticationError('X-Git-Geo-Signature-256 does not match the timestamp and body signed with the webhook secret');
    }
    const skew = Math.abs(now.getTime() / 1000 - Number(timestamp));
    if (skew > GENERIC_TOLERANCE_SECONDS) {
      throw new AuthenticationError(`X-Git-Geo-Timestamp is ${Math.round(skew)} s away from now; the limit is ${GENERIC_TOLERANCE_SECONDS} s`);
    }
  },
  parse(json, request, trust) {
    const event = request.headers[GENERIC_HEADERS.event]?.trim() ?? '';
    const kind = CHANGE_KINDS.find((candidate) => candidate === event);
    if (kind === undefined) {
      throw new ValidationError(`X-Git-Geo-Event must be one of ${CHANGE_KINDS.join(', ')}`, { data: { event: event.slice(0, 100) } });
    }
    const delivery = request.headers[GENERIC_HEADERS.delivery]?.trim() ?? '';
    if (!/^[\x21-\x7e]{8,200}$/.test(delivery)) {
      throw new ValidationError('X-Git-Geo-Delivery must be a unique id of 8 to 200 printable characters');
    }
    const body = parseWith(Body, json, 'git-geo generic');
    assertTrustedUrls([body.url], trust);
    if ((kind === 'repository.renamed') !== (body.previousRepository !== undefined)) {
      throw new ValidationError('previousRepository is required for repository.renamed and allowed only there');
    }
    return {
      source: 'generic',
      deliveryId: delivery,
      eventName: kind,
      drafts: [
        {
          kind,
          repository: body.repository,
          ...(body.previousRepository !== undefined ? { previousRepository: body.previousRepository } : {}),
          changes: body.changes ?? [],
          ...(body.defaultBranch !== undefined ? { defaultBranch: body.defaultBranch } : {}),
        },
      ],
    };
  },
};
