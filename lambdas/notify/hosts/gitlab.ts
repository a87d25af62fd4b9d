import { z } from 'zod';
import { AuthenticationError, UnsupportedEventError } from '../../shared/errors/index.ts';
import { secureCompare } from '../secureCompare.ts';
import { assertTrustedUrls } from '../trustedHosts.ts';
import { deliveryId } from './deliveryId.ts';
import { parseWith } from './parseWith.ts';
import type { ParsedWebhook, TrustPolicy, WebhookRequest, WebhookSource } from './WebhookSource.ts';

const Project = z.object({
  path_with_namespace: z.string(),
  default_branch: z.string().nullish(),
  git_http_url: z.string().nullish(),
  web_url: z.string().nullish(),
});

const PushHook = z.object({
  object_kind: z.enum(['push', 'tag_push']),
  ref: z.string(),
  before: z.string(),
  after: z.string(),
  project: Project,
});

function fullRef(ref: string, kind: 'push' | 'tag_push'): string {
  if (ref.startsWith('refs/')) return ref;
  return kind === 'tag_push' ? `refs/tags/${ref}` : `refs/heads/${ref}`;
}

function parsePushHook(json: unknown, request: WebhookRequest, trust: TrustPolicy, eventName: string): ParsedWebhook {
  const hook = parseWith(PushHook, json, `GitLab ${eventName}`);
  assertTrustedUrls([hook.project.git_http_url, hook.project.web_url], trust);
  return {
    source: 'gitlab',
    deliveryId: deliveryId(request, ['idempotency-key', 'x-gitlab-event-uuid']),
    eventName,
    drafts: [
      {
        kind: 'push',
        repository: hook.project.path_with_namespace,
        changes: [{ ref: fullRef(hook.ref, hook.object_kind), before: hook.before, after: hook.after }],
        ...(hook.project.default_branch ? { defaultBranch: `refs/heads/${hook.project.default_branch}` } : {}),
      },
    ],
  };
}

const PARSERS: Record<string, (json: unknown, request: WebhookRequest, trust: TrustPolicy, eventName: string) => ParsedWebhook> = {
  'Push Hook': parsePushHook,
  'Tag Push Hook': parsePushHook,
};

/** GitLab project webhooks; authenticated by the shared secret in `X-Gitlab-Token`. */
export const gitlab: WebhookSource = {
  name: 'gitlab',
  matches: (headers) => headers['x-gitlab-event'] !== undefined,
  authenticate(request, secret) {
    const token = request.headers['x-gitlab-token'];
    if (token === undefined || token === '') throw new AuthenticationError('missing X-Gitlab-Token header');
    if (!secureCompare(token, secret)) throw new AuthenticationError('X-Gitlab-Token does not match the webhook secret');
  },
  parse(json, request, trust) {
    const eventName = request.headers['x-gitlab-event'] ?? '';
    const parser = PARSERS[eventName];
    if (parser === undefined) {
      throw new UnsupportedEventError(`GitLab event "${eventName}" is not handled`, {
        data: { event: eventName.slice(0, 100), supported: Object.keys(PARSERS) },
      });
    }
    return parser(json, request, trust, eventName);
  },
};
