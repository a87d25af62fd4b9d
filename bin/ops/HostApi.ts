import type { PrimaryCredentials } from '../../lambdas/shared/secrets/SecretReader.ts';
import { basicAuthorization } from '../../lambdas/shared/secrets/SecretReader.ts';

/** How a host is told a repository's default branch (and, where pushes cannot, to create it). */
export const HOST_KINDS = ['git-geo-local', 'gitlab', 'github', 'none'] as const;
export type HostKind = (typeof HOST_KINDS)[number];

/** The few calls `git-geo promote` and `git-geo restore --push` need beyond git itself. */
export interface HostApi {
  readonly kind: HostKind;
  /** Makes sure the repository exists before a push (hosts without push-to-create). */
  ensureRepository(repository: string): Promise<void>;
  /** Points the repository's HEAD at `ref` (refs/heads/<branch>). Answers false when the host cannot be told. */
  setDefaultBranch(repository: string, ref: string): Promise<boolean>;
}

async function expectOk(response: Response, what: string, alsoOk: readonly number[] = []): Promise<void> {
  if (response.ok || alsoOk.includes(response.status)) return;
  const text = (await response.text()).slice(0, 300);
  throw new Error(`${what}: HTTP ${response.status} ${text}`);
}

/**
 * A host API for a base URL: git-geo's local git server (`PUT <repo>.git/HEAD`), GitLab
 * (`PUT /api/v4/projects/:path`; pushes create projects), GitHub and GitHub Enterprise
 * (`POST /orgs/:org/repos`, `PATCH /repos/:path`), or none (the default branch is reported for the
 * operator to set). Credentials are the promotion secret's (a token as the password).
 */
export function hostApi(kind: HostKind, baseUrl: string, credentials: PrimaryCredentials | undefined): HostApi {
  const base = baseUrl.replace(/\/+$/, '');
  const token = credentials?.password;
  switch (kind) {
    case 'git-geo-local':
      return {
        kind,
        ensureRepository: () => Promise.resolve(),
        async setDefaultBranch(repository, ref) {
          const headers: Record<string, string> = { 'content-type': 'text/plain' };
          if (credentials !== undefined) headers.authorization = basicAuthorization(credentials);
          await expectOk(await fetch(`${base}/${repository}.git/HEAD`, { method: 'PUT', headers, body: `ref: ${ref}\n` }), `set HEAD of ${repository}`);
          return true;
        },
      };
    case 'gitlab':
      return {
        kind,
        ensureRepository: () => Promise.resolve(),
        async setDefaultBranch(repository, ref) {
          const response = await fetch(`${base}/api/v4/projects/${encodeURIComponent(repository)}`, {
            method: 'PUT',
            headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
            body: JSON.stringify({ default_branch: ref.replace(/^refs\/heads\//, '') }),
          });
          await expectOk(response, `set the default branch of ${repository}`);
          return true;
        },
      };
    case 'github': {
      const api = new URL(base).host === 'github.com' ? 'https://api.github.com' : `${base}/api/v3`;
      const headers = { accept: 'application/vnd.github+json', 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
      return {
        kind,
        async ensureRepository(repository) {
          const [owner, name] = repository.split('/');
          if (owner === undefined || name === undefined) throw new Error(`GitHub repositories are owner/name: ${repository}`);
          const response = await fetch(`${api}/orgs/${owner}/repos`, { method: 'POST', headers, body: JSON.stringify({ name, private: true }) });
          // 422: it exists already.
          await expectOk(response, `create ${repository}`, [422]);
        },
        async setDefaultBranch(repository, ref) {
          const response = await fetch(`${api}/repos/${repository}`, { method: 'PATCH', headers, body: JSON.stringify({ default_branch: ref.replace(/^refs\/heads\//, '') }) });
          await expectOk(response, `set the default branch of ${repository}`);
          return true;
        },
      };
    }
    case 'none':
      return { kind, ensureRepository: () => Promise.resolve(), setDefaultBranch: () => Promise.resolve(false) };
  }
}
