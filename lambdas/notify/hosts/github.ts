import * as z from 'zod';
import type { ChangeDraftInput } from '../../shared/events/ChangeEvent.ts';
import { AuthenticationError } from '../../shared/errors/index.ts';
import { hmacSha256Matches } from '../secureCompare.ts';
import { assertTrustedUrls } from '../trustedHosts.ts';
import { deliveryId } from './deliveryId.ts';
import { parseWith } from './parseWith.ts';
import type { ParsedWebhook, TrustPolicy, WebhookRequest, WebhookSource } from './WebhookSource.ts';

const Repository = z.object({
  full_name: z.string(),
  name: z.string(),
  default_branch: z.string().nullish(),
  clone_url: z.string().nullish(),
  html_url: z.string().nullish(),
  git_url: z.string().nullish(),
  ssh_url: z.string().nullish(),
  svn_url: z.string().nullish(),
});
type Repository = z.infer<typeof Repository>;

const Push = z.object({ ref: z.string(), before: z.string(), after: z.string(), repository: Repository });
const RefEvent = z.object({ ref: z.string(), ref_type: z.enum(['branch', 'tag']), repository: Repository });
const RepositoryEvent = z.object({
  action: z.string().max(100),
  repository: Repository,
  changes: z
    .object({
      repository: z.object({ name: z.object({ from: z.string() }) }).optional(),
      owner: z.object({ from: z.object({ user: z.object({ login: z.string() }).optional(), organization: z.object({ login: z.string() }).optional() }) }).optional(),
      default_branch: z.object({ from: z.string() }).optional(),
    })
    .optional(),
});

type Parsed = Pick<ParsedWebhook, 'drafts' | 'ignored'>;

/** Where the repository lives: these must name a configured primary. API URLs (api.github.com) are not checked. */
function trust(repository: Repository, policy: TrustPolicy): void {
  assertTrustedUrls([repository.clone_url, repository.html_url, repository.git_url, repository.ssh_url, repository.svn_url], policy);
}

function defaultBranch(repository: Repository): Partial<ChangeDraftInput> {
  return repository.default_branch ? { defaultBranch: `refs/heads/${repository.default_branch}` } : {};
}

function owner(repository: Repository): string {
  return repository.full_name.slice(0, Math.max(0, repository.full_name.lastIndexOf('/')));
}

function parseRepositoryEvent(json: unknown, policy: TrustPolicy): Parsed {
  const hook = parseWith(RepositoryEvent, json, 'GitHub repository');
  trust(hook.repository, policy);
  const repository = hook.repository.full_name;
  switch (hook.action) {
    case 'created':
      return { drafts: [{ kind: 'repository.created', repository, ...defaultBranch(hook.repository) }] };
    case 'deleted':
      return { drafts: [{ kind: 'repository.deleted', repository }] };
    case 'renamed':
    case 'transferred': {
      const from = hook.changes?.owner?.from;
      const previousOwner = from?.user?.login ?? from?.organization?.login ?? owner(hook.repository);
      const previousName = hook.changes?.repository?.name.from ?? hook.repository.name;
      const previousRepository = `${previousOwner}/${previousName}`;
      // A rename to the same path (GitHub's own sample is one) moves nothing; a resync does no harm.
      if (previousRepository === repository) return { drafts: [{ kind: 'sync.requested', repository }] };
      return { drafts: [{ kind: 'repository.renamed', repository, previousRepository, ...defaultBranch(hook.repository) }] };
    }
    case 'edited':
      if (hook.changes?.default_branch) return { drafts: [{ kind: 'head.changed', repository, ...defaultBranch(hook.repository) }] };
      return { drafts: [], ignored: 'GitHub repository edit does not change the default branch' };
    default:
      return { drafts: [], ignored: `GitHub repository "${hook.action}" needs no replication` };
  }
}

function parseEvent(event: string, json: unknown, policy: TrustPolicy): Parsed {
  switch (event) {
    case 'push': {
      const hook = parseWith(Push, json, 'GitHub push');
      trust(hook.repository, policy);
      return { drafts: [{ kind: 'push', repository: hook.repository.full_name, changes: [{ ref: hook.ref, before: hook.before, after: hook.after }], ...defaultBranch(hook.repository) }] };
    }
    case 'create':
    case 'delete': {
      // No object ids here, only the short ref name: the sync reads them from the primary.
      const hook = parseWith(RefEvent, json, `GitHub ${event}`);
      trust(hook.repository, policy);
      return { drafts: [{ kind: 'push', repository: hook.repository.full_name, ...defaultBranch(hook.repository) }] };
    }
    case 'repository':
      return parseRepositoryEvent(json, policy);
    case 'ping':
      return { drafts: [], ignored: 'ping: the webhook reaches git-geo and its signature is valid' };
    default:
      return { drafts: [], ignored: `GitHub "${event}" events need no replication` };
  }
}

/**
 * GitHub and GitHub Enterprise Server webhooks: push (branch and tag updates, creations, deletions
 * and force pushes), create, delete, repository (created, deleted, renamed, transferred, default
 * branch edited) and ping. Authenticated by `X-Hub-Signature-256`, the HMAC-SHA256 of the raw
 * body; deduplicated by `X-GitHub-Delivery`, which redeliveries keep.
 */
export const github: WebhookSource = {
  name: 'github',
  matches: (headers) => headers['x-github-event'] !== undefined,
  authenticate(request, secret) {
    const header = request.headers['x-hub-signature-256'];
    if (header === undefined || header === '') {
      throw new AuthenticationError('missing X-Hub-Signature-256 header: set a secret on the GitHub webhook');
    }
    const match = /^sha256=([0-9a-fA-F]+)$/.exec(header.trim());
    if (match?.[1] === undefined || !hmacSha256Matches(secret, request.body, match[1])) {
      throw new AuthenticationError('X-Hub-Signature-256 does not match the body signed with the webhook secret');
    }
  },
  parse(json, request: WebhookRequest, policy) {
    const event = (request.headers['x-github-event'] ?? '').slice(0, 100);
    return { source: 'github', deliveryId: deliveryId(request, ['x-github-delivery']), eventName: event, ...parseEvent(event, json, policy) };
  },
};
