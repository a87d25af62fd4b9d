import { forgejo } from './forgejo.ts';
import { generic } from './generic.ts';
import { gitea } from './gitea.ts';
import { github } from './github.ts';
import { gitlab } from './gitlab.ts';
import type { WebhookSource } from './WebhookSource.ts';

/**
 * Every Git host git-geo understands, in the order their headers are checked. Forgejo sends
 * Gitea's headers too, and both send GitHub's, so the more specific hosts come first.
 */
export const WEBHOOK_SOURCES: readonly WebhookSource[] = [forgejo, gitea, gitlab, github, generic];
