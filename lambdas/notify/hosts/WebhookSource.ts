import type { ChangeDraftInput, ChangeSource } from '../../shared/events/ChangeEvent.ts';

export interface WebhookRequest {
  /** Header names in lower case, as Lambda Function URLs deliver them. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** The raw body, byte for byte: signatures are computed over it. */
  readonly body: Buffer;
}

export interface TrustPolicy {
  /** `host[:port]` of every configured primary URL, lower case. Payload URLs must name one of these. */
  readonly primaryHosts: ReadonlySet<string>;
}

export interface ParsedWebhook {
  readonly source: ChangeSource;
  /** The host's own id for this delivery, stable across its retries. */
  readonly deliveryId: string;
  readonly eventName: string;
  /** Changes to record; empty for an event that needs no replication (a ping, say). */
  readonly drafts: readonly ChangeDraftInput[];
  /**
   * Why an authenticated event needs no replication (an issue, a ping). It is answered 202 and
   * nothing is recorded: a 4xx would make GitLab disable the whole webhook.
   */
  readonly ignored?: string;
}

/**
 * One Git host's webhook dialect. Adding a host means adding one module that implements this
 * and listing it in `hosts/index.ts`.
 */
export interface WebhookSource {
  readonly name: ChangeSource;
  /** True when the headers say the request comes from this kind of host. */
  matches(headers: WebhookRequest['headers']): boolean;
  /** Throws AuthenticationError unless the request proves it knows the shared secret. */
  authenticate(request: WebhookRequest, secret: string, now: Date): void;
  /** Turns an authenticated JSON body into change drafts. */
  parse(json: unknown, request: WebhookRequest, trust: TrustPolicy): ParsedWebhook;
}
