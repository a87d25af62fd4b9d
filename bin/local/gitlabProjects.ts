import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A project as GitLab's `/api/v4/projects` lists it: the fields backfill reads. */
export interface GitlabProject {
  readonly id: number;
  readonly path_with_namespace: string;
  readonly http_url_to_repo: string;
  readonly default_branch: string | null;
  readonly visibility: 'public' | 'private';
  /** GitLab says whether the project's wiki is on; here: whether `<path>.wiki.git` exists beside it. */
  readonly wiki_enabled: boolean;
}

/** Every bare repository under `root` (`<path>.git` directories with a HEAD), sorted by path. */
export async function listBareRepositories(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isDirectory()) continue;
      if (entry.name.endsWith('.git')) found.push(`${prefix}${entry.name.slice(0, -4)}`);
      else await walk(join(dir, entry.name), `${prefix}${entry.name}/`);
    }
  };
  await walk(root, '');
  return found.sort();
}

/**
 * One page of GitLab's projects listing for the repositories under `root`, with the headers
 * GitLab sends (X-Total, X-Total-Pages, X-Page, X-Per-Page, X-Next-Page), so backfill is tested
 * against the API shape a real GitLab answers.
 */
export async function gitlabProjectsPage(
  root: string,
  baseUrl: string,
  query: URLSearchParams,
  isPrivate?: (repository: string) => boolean,
): Promise<{ body: GitlabProject[]; headers: Record<string, string> }> {
  const perPage = Math.min(100, Math.max(1, Number.parseInt(query.get('per_page') ?? '20', 10) || 20));
  const page = Math.max(1, Number.parseInt(query.get('page') ?? '1', 10) || 1);
  // A wiki (`<path>.wiki.git`) is its project's, not a project of its own, as on GitLab.
  const repositories = await listBareRepositories(root);
  const wikis = new Set(repositories.filter((path) => path.endsWith('.wiki')));
  const all = repositories.filter((path) => !wikis.has(path));
  const slice = all.slice((page - 1) * perPage, page * perPage);
  const body = await Promise.all(
    slice.map(async (path, index) => {
      const head = await readFile(join(root, `${path}.git`, 'HEAD'), 'utf8').catch(() => '');
      const branch = /^ref: refs\/heads\/(.+)$/m.exec(head)?.[1] ?? null;
      return {
        id: (page - 1) * perPage + index + 1,
        path_with_namespace: path,
        http_url_to_repo: `${baseUrl}/${path}.git`,
        default_branch: branch,
        visibility: isPrivate?.(path) ? ('private' as const) : ('public' as const),
        wiki_enabled: wikis.has(`${path}.wiki`),
      };
    }),
  );
  const totalPages = Math.max(1, Math.ceil(all.length / perPage));
  return {
    body,
    headers: {
      'x-total': String(all.length),
      'x-total-pages': String(totalPages),
      'x-page': String(page),
      'x-per-page': String(perPage),
      'x-next-page': page < totalPages ? String(page + 1) : '',
    },
  };
}
