import type { RefUpdate } from './startGitServer.ts';

export interface WebhookRequest {
  readonly headers: Record<string, string>;
  readonly body: string;
}

/**
 * A GitLab project webhook for one ref update, shaped as GitLab documents its Push Hook
 * and Tag Push Hook (the fields git-geo reads, plus the usual identity fields).
 */
export function gitlabPushHook(options: { primaryUrl: string; repository: string; update: RefUpdate; token: string; defaultBranch?: string }): WebhookRequest {
  const { primaryUrl, repository, update, token } = options;
  const isTag = update.ref.startsWith('refs/tags/');
  const base = primaryUrl.replace(/\/+$/, '');
  const name = repository.split('/').at(-1) ?? repository;
  const body = {
    object_kind: isTag ? 'tag_push' : 'push',
    event_name: isTag ? 'tag_push' : 'push',
    before: update.before,
    after: update.after,
    ref: update.ref,
    checkout_sha: /^0+$/.test(update.after) ? null : update.after,
    user_name: 'git-geo',
    user_username: 'git-geo',
    project: {
      name,
      path_with_namespace: repository,
      default_branch: options.defaultBranch ?? 'main',
      web_url: `${base}/${repository}`,
      git_http_url: `${base}/${repository}.git`,
      http_url: `${base}/${repository}.git`,
    },
    repository: { name, homepage: `${base}/${repository}`, git_http_url: `${base}/${repository}.git` },
    commits: [],
    total_commits_count: 0,
  };
  return {
    headers: {
      'content-type': 'application/json',
      'x-gitlab-event': isTag ? 'Tag Push Hook' : 'Push Hook',
      'x-gitlab-token': token,
      'x-gitlab-event-uuid': crypto.randomUUID(),
      'user-agent': 'GitLab/17.5.0',
    },
    body: JSON.stringify(body),
  };
}

/** POSTs a webhook; answers the status and the parsed JSON body. */
export async function sendWebhook(url: string, request: WebhookRequest): Promise<{ status: number; body: Record<string, unknown>; retryAfterSeconds?: number }> {
  const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  const retryAfter = Number.parseInt(response.headers.get('retry-after') ?? '', 10);
  const text = await response.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: response.status, body, ...(Number.isNaN(retryAfter) ? {} : { retryAfterSeconds: retryAfter }) };
}
