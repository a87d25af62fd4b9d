import { gitlab } from './gitlab.ts';
import type { WebhookSource } from './WebhookSource.ts';

/** Every Git host git-geo understands, in the order their headers are checked. */
export const WEBHOOK_SOURCES: readonly WebhookSource[] = [gitlab];
