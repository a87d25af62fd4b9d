import { ChangeDraftSchema, MAX_CHANGES_PER_EVENT, type ChangeDraft } from '../shared/events/ChangeEvent.ts';
import { PayloadTooLargeError, UnsupportedEventError, ValidationError } from '../shared/errors/index.ts';
import { draftsFromTypes } from '../replicable/registry.ts';
import { WEBHOOK_SOURCES } from './hosts/index.ts';
import type { ParsedWebhook, TrustPolicy, WebhookRequest, WebhookSource } from './hosts/WebhookSource.ts';

export interface WebhookPolicy extends TrustPolicy {
  readonly secret: string;
  readonly maxBodyBytes: number;
  readonly sources?: readonly WebhookSource[];
  /** The clock signed timestamps are checked against. */
  readonly now?: () => Date;
}

export interface VerifiedWebhook extends Omit<ParsedWebhook, 'drafts'> {
  readonly drafts: readonly ChangeDraft[];
}

/**
 * The JSON text of a body. GitHub's and Gitea's webhook forms default to
 * application/x-www-form-urlencoded, which carries the JSON in a `payload` field; the
 * signature covers the body as sent, and was checked before this.
 */
function jsonText(request: WebhookRequest): string {
  const text = request.body.toString('utf8');
  const contentType = request.headers['content-type']?.toLowerCase() ?? '';
  if (!contentType.startsWith('application/x-www-form-urlencoded')) return text;
  const payload = new URLSearchParams(text).get('payload');
  if (payload === null) throw new ValidationError('a form-encoded webhook needs a payload field');
  return payload;
}

/**
 * Authenticates and normalizes one webhook request. The order matters: size first,
 * then who sent it, then the signature over the raw bytes, and only then is the body
 * parsed. Anything wrong throws a 4xx GeoError and nothing has been recorded.
 */
export function parseWebhook(request: WebhookRequest, policy: WebhookPolicy): VerifiedWebhook {
  if (request.body.length > policy.maxBodyBytes) {
    throw new PayloadTooLargeError(`payload is ${request.body.length} bytes; the limit is ${policy.maxBodyBytes}`, {
      data: { bytes: request.body.length, limit: policy.maxBodyBytes },
    });
  }
  const sources = policy.sources ?? WEBHOOK_SOURCES;
  const source = sources.find((candidate) => candidate.matches(request.headers));
  if (source === undefined) {
    throw new UnsupportedEventError('request is not from a known Git host: no recognised event header', {
      data: { known: sources.map((candidate) => candidate.name) },
    });
  }
  source.authenticate(request, policy.secret, policy.now?.() ?? new Date());
  let json: unknown;
  try {
    json = JSON.parse(jsonText(request));
  } catch (cause) {
    throw new ValidationError('payload is not valid JSON', { cause });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ValidationError('payload must be a JSON object');
  }
  let parsed = source.parse(json, request, policy);
  if (parsed.ignored !== undefined) {
    // An event the host module does not replicate may concern another replicable type (lambdas/replicable/registry.ts).
    const typed = draftsFromTypes({ source: parsed.source, eventName: parsed.eventName, json, request, trust: policy });
    if (typed === undefined) return { ...parsed, drafts: [] };
    parsed = { source: parsed.source, deliveryId: parsed.deliveryId, eventName: parsed.eventName, drafts: typed.drafts };
  }
  const drafts = parsed.drafts.map((input) => {
    // A push of more refs than an event may list keeps its repository, not its changes: they are hints.
    const draft = (input.changes?.length ?? 0) > MAX_CHANGES_PER_EVENT ? { ...input, changes: [], changesOmitted: true } : input;
    const result = ChangeDraftSchema.safeParse(draft);
    if (!result.success) {
      throw new ValidationError(`${parsed.source} ${parsed.eventName} payload describes an invalid change`, {
        data: { issues: result.error.issues.slice(0, 10).map((issue) => `${issue.path.join('.')}: ${issue.message}`) },
      });
    }
    return result.data;
  });
  return { ...parsed, drafts };
}
