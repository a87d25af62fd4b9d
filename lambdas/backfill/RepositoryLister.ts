import { GeoError } from '../shared/errors/index.ts';
import { USER_AGENTS } from '../shared/git/userAgents.ts';

/** One page of the primary's repositories. */
export interface RepositoryPage {
  readonly repositories: readonly string[];
  /** The next page's cursor; undefined on the last page. */
  readonly next?: string;
  /** How many repositories the listing says there are, when it says. */
  readonly total?: number;
  /** The listing's own JSON of each repository, by path: what replicable types read (a wiki type: whether the project has a wiki). */
  readonly listings?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

/** Lists the primary's repositories a page at a time; a cursor resumes where a page left off. */
export interface RepositoryLister {
  listPage(cursor: string | undefined): Promise<RepositoryPage>;
}

export class ListingFailedError extends GeoError {
  readonly code = 'ERR_LISTING_FAILED';
  override readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options: ConstructorParameters<typeof GeoError>[1] = {}) {
    super(message, options);
    this.retryable = retryable;
  }
}

export interface ListerOptions {
  readonly kind: 'gitlab' | 'github' | 'gitea' | 'static';
  readonly apiUrl: string;
  readonly owner?: string;
  readonly repositories?: readonly string[];
  readonly token?: string;
  readonly timeoutMs?: number;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

const PAGE_SIZE = 100;

async function getJson(options: ListerOptions, url: string, headers: Record<string, string>): Promise<{ body: unknown; headers: Headers }> {
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      headers: { accept: 'application/json', 'user-agent': USER_AGENTS.backfill, ...headers },
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new ListingFailedError(`the primary's repository listing is unreachable: ${(error as Error).message}`, true, { cause: error, data: { url } });
  }
  if (!response.ok) {
    await response.body?.cancel();
    const retryable = response.status === 429 || response.status >= 500;
    throw new ListingFailedError(`the primary's repository listing answered ${response.status}`, retryable, { data: { url, status: response.status } });
  }
  return { body: (await response.json()), headers: response.headers };
}

/** The repositories' paths (in `field`) of a listing page, and each one's JSON. */
function names(body: unknown, field: string): Pick<RepositoryPage, 'repositories' | 'listings'> {
  if (!Array.isArray(body)) throw new ListingFailedError(`the repository listing is not a JSON array`, false);
  const repositories: string[] = [];
  const listings: Record<string, Record<string, unknown>> = {};
  for (const item of body as unknown[]) {
    const value = (item as Record<string, unknown> | null)?.[field];
    if (typeof value !== 'string' || value.length === 0) continue;
    repositories.push(value);
    listings[value] = item as Record<string, unknown>;
  }
  return { repositories, listings };
}

const positive = (value: string | null): number | undefined => {
  const number = Number.parseInt(value ?? '', 10);
  return Number.isFinite(number) && number >= 0 ? number : undefined;
};

/** GitLab: `/api/v4/projects` (every project the token sees), paged by X-Next-Page, counted by X-Total. */
function gitlabLister(options: ListerOptions): RepositoryLister {
  return {
    async listPage(cursor) {
      const page = cursor ?? '1';
      // Not `simple=true`: the full project says whether it has a wiki (wiki_enabled / wiki_access_level).
      const url = `${options.apiUrl}/api/v4/projects?per_page=${PAGE_SIZE}&page=${encodeURIComponent(page)}&order_by=id&sort=asc`;
      const { body, headers } = await getJson(options, url, options.token ? { 'private-token': options.token } : {});
      const next = headers.get('x-next-page') || undefined;
      const total = positive(headers.get('x-total'));
      return { ...names(body, 'path_with_namespace'), ...(next ? { next } : {}), ...(total === undefined ? {} : { total }) };
    },
  };
}

/** GitHub: `/orgs/<org>/repos` or `/users/<user>/repos`, paged by the Link header. */
function githubLister(options: ListerOptions): RepositoryLister {
  const owner = options.owner ?? '';
  const base = owner.includes('/') ? owner : `orgs/${owner}`;
  return {
    async listPage(cursor) {
      const page = cursor ?? '1';
      const url = `${options.apiUrl}/${base}/repos?per_page=${PAGE_SIZE}&page=${encodeURIComponent(page)}`;
      const { body, headers } = await getJson(options, url, {
        accept: 'application/vnd.github+json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      });
      const hasNext = /<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="next"/.exec(headers.get('link') ?? '')?.[1];
      return { ...names(body, 'full_name'), ...(hasNext ? { next: hasNext } : {}) };
    },
  };
}

/** Gitea and Forgejo: `/api/v1/orgs/<org>/repos`, or `/api/v1/repos/search`, counted by X-Total-Count. */
function giteaLister(options: ListerOptions): RepositoryLister {
  return {
    async listPage(cursor) {
      const page = Number.parseInt(cursor ?? '1', 10);
      const path = options.owner ? `/api/v1/orgs/${encodeURIComponent(options.owner)}/repos` : '/api/v1/repos/search';
      const url = `${options.apiUrl}${path}?limit=50&page=${page}`;
      const { body, headers } = await getJson(options, url, options.token ? { authorization: `token ${options.token}` } : {});
      const items = options.owner ? body : (body as { data?: unknown }).data;
      const listed = names(items, 'full_name');
      const repositories = listed.repositories;
      const total = positive(headers.get('x-total-count'));
      const more = total === undefined ? repositories.length === 50 : page * 50 < total;
      return { ...listed, ...(more ? { next: String(page + 1) } : {}), ...(total === undefined ? {} : { total }) };
    },
  };
}

/** A fixed list: one page. */
function staticLister(options: ListerOptions): RepositoryLister {
  const repositories = [...(options.repositories ?? [])];
  return { listPage: () => Promise.resolve({ repositories, total: repositories.length }) };
}

export function createRepositoryLister(options: ListerOptions): RepositoryLister {
  switch (options.kind) {
    case 'gitlab':
      return gitlabLister(options);
    case 'github':
      return githubLister(options);
    case 'gitea':
      return giteaLister(options);
    case 'static':
      return staticLister(options);
  }
}
