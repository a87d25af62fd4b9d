import * as z from 'zod';
import type { ChangeDraftInput } from '../../shared/events/ChangeEvent.ts';
import { AuthenticationError } from '../../shared/errors/index.ts';
import { secureCompare } from '../secureCompare.ts';
import { assertTrustedUrls } from '../trustedHosts.ts';
import { deliveryId } from './deliveryId.ts';
import { parseWith } from './parseWith.ts';
import type { ParsedWebhook, TrustPolicy, WebhookRequest, WebhookSource } from './WebhookSource.ts';

const UrlFields = {
  web_url: z.string().nullish(),
  git_http_url: z.string().nullish(),
  git_ssh_url: z.string().nullish(),
  http_url: z.string().nullish(),
  ssh_url: z.string().nullish(),
  homepage: z.string().nullish(),
  url: z.string().nullish(),
};

const Project = z.object({
  path_with_namespace: z.string(),
  default_branch: z.string().nullish(),
  ...UrlFields,
});

const Repository = z.object(UrlFields).nullish();

/** Project Push Hook / Tag Push Hook, and the system hooks `push` and `tag_push`, which have the same shape. */
const PushHook = z.object({
  object_kind: z.enum(['push', 'tag_push']).optional(),
  event_name: z.enum(['push', 'tag_push']).optional(),
  ref: z.string(),
  before: z.string(),
  after: z.string(),
  project: Project,
  repository: Repository,
});

const RepositoryUpdate = z.object({
  event_name: z.literal('repository_update'),
  project: Project,
  changes: z.array(z.object({ ref: z.string(), before: z.string(), after: z.string() })),
});

const ProjectLifecycle = z.object({
  event_name: z.string(),
  path_with_namespace: z.string(),
  old_path_with_namespace: z.string().optional(),
});

type Parsed = Pick<ParsedWebhook, 'drafts' | 'ignored'>;

function fullRef(ref: string, kind: 'push' | 'tag_push'): string {
  if (ref.startsWith('refs/')) return ref;
  return kind === 'tag_push' ? `refs/tags/${ref}` : `refs/heads/${ref}`;
}

/** Every URL GitLab put in the payload, and the instance header: all must name a configured primary. */
function urlsOf(request: WebhookRequest, ...holders: (Partial<Record<keyof typeof UrlFields, string | null | undefined>> | null | undefined)[]): unknown[] {
  const urls: unknown[] = [];
  for (const holder of holders) if (holder) urls.push(...Object.keys(UrlFields).map((key) => holder[key as keyof typeof UrlFields]));
  return [...urls, request.headers['x-gitlab-instance']];
}

function defaultBranchOf(project: z.infer<typeof Project>): Partial<ChangeDraftInput> {
  return project.default_branch ? { defaultBranch: `refs/heads/${project.default_branch}` } : {};
}

function parsePush(json: unknown, request: WebhookRequest, trust: TrustPolicy, what: string): Parsed {
  const hook = parseWith(PushHook, json, what);
  assertTrustedUrls(urlsOf(request, hook.project, hook.repository), trust);
  const kind = hook.object_kind ?? hook.event_name ?? (hook.ref.startsWith('refs/tags/') ? 'tag_push' : 'push');
  return {
    drafts: [
      {
        kind: 'push',
        repository: hook.project.path_with_namespace,
        changes: [{ ref: fullRef(hook.ref, kind), before: hook.before, after: hook.after }],
        ...defaultBranchOf(hook.project),
      },
    ],
  };
}

function parseRepositoryUpdate(json: unknown, request: WebhookRequest, trust: TrustPolicy): Parsed {
  const hook = parseWith(RepositoryUpdate, json, 'GitLab system hook repository_update');
  assertTrustedUrls(urlsOf(request, hook.project), trust);
  return { drafts: [{ kind: 'push', repository: hook.project.path_with_namespace, changes: hook.changes, ...defaultBranchOf(hook.project) }] };
}

function parseLifecycle(json: unknown, request: WebhookRequest, trust: TrustPolicy, eventName: string): Parsed {
  const hook = parseWith(ProjectLifecycle, json, `GitLab system hook ${eventName}`);
  assertTrustedUrls(urlsOf(request), trust);
  const repository = hook.path_with_namespace;
  switch (eventName) {
    case 'project_create':
      return { drafts: [{ kind: 'repository.created', repository }] };
    case 'project_update':
      return { drafts: [{ kind: 'head.changed', repository }] };
    case 'project_destroy':
      return { drafts: [{ kind: 'repository.deleted', repository }] };
    default: {
      // project_rename and project_transfer: both carry the old path.
      const previous = parseWith(z.object({ old_path_with_namespace: z.string() }), json, `GitLab system hook ${eventName}`);
      if (previous.old_path_with_namespace === repository) return { drafts: [{ kind: 'sync.requested', repository }] };
      return { drafts: [{ kind: 'repository.renamed', repository, previousRepository: previous.old_path_with_namespace }] };
    }
  }
}

const SYSTEM_EVENTS = ['repository_update', 'push', 'tag_push', 'project_create', 'project_update', 'project_destroy', 'project_rename', 'project_transfer'];

function parseSystemHook(json: unknown, request: WebhookRequest, trust: TrustPolicy): Parsed & { eventName: string } {
  const { event_name: eventName } = parseWith(z.object({ event_name: z.string().max(100) }), json, 'GitLab system hook');
  const name = `System Hook ${eventName}`;
  if (!SYSTEM_EVENTS.includes(eventName)) {
    return { eventName: name, drafts: [], ignored: `GitLab system hook "${eventName}" needs no replication` };
  }
  if (eventName === 'repository_update') return { eventName: name, ...parseRepositoryUpdate(json, request, trust) };
  if (eventName === 'push' || eventName === 'tag_push') return { eventName: name, ...parsePush(json, request, trust, `GitLab system hook ${eventName}`) };
  return { eventName: name, ...parseLifecycle(json, request, trust, eventName) };
}

/**
 * GitLab project and group webhooks (Push Hook, Tag Push Hook) and system hooks (repository_update,
 * push, tag_push, project_create/update/destroy/rename/transfer). Authenticated by the shared secret
 * in `X-Gitlab-Token`; deliveries are deduplicated by `Idempotency-Key` (17.4+), else the event UUID.
 */
export const gitlab: WebhookSource = {
  name: 'gitlab',
  matches: (headers) => headers['x-gitlab-event'] !== undefined,
  authenticate(request, secret) {
    const token = request.headers['x-gitlab-token'];
    if (token === undefined || token === '') throw new AuthenticationError('missing X-Gitlab-Token header');
    if (!secureCompare(token, secret)) throw new AuthenticationError('X-Gitlab-Token does not match the webhook secret');
  },
  parse(json, request, trust) {
    const header = (request.headers['x-gitlab-event'] ?? '').slice(0, 100);
    const id = deliveryId(request, ['idempotency-key', 'x-gitlab-event-uuid']);
    if (header === 'System Hook') return { source: 'gitlab', deliveryId: id, ...parseSystemHook(json, request, trust) };
    if (header === 'Push Hook' || header === 'Tag Push Hook') {
      return { source: 'gitlab', deliveryId: id, eventName: header, ...parsePush(json, request, trust, `GitLab ${header}`) };
    }
    return { source: 'gitlab', deliveryId: id, eventName: header, drafts: [], ignored: `GitLab "${header}" events need no replication` };
  },
};
