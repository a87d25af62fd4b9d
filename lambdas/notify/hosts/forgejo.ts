import { giteaFamily } from './gitea.ts';
import type { WebhookSource } from './WebhookSource.ts';

/**
 * Forgejo webhooks: Gitea's payloads, under `X-Forgejo-*` headers (it sends Gitea's too).
 * Signed with `X-Forgejo-Signature`; deduplicated by `X-Forgejo-Delivery`.
 */
export const forgejo: WebhookSource = giteaFamily('forgejo', 'Forgejo', 'x-forgejo', ['x-forgejo-signature', 'x-gitea-signature']);
