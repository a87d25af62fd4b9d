import { describe, expect, it } from '@jest/globals';
import { createRepositoryLister, ListingFailedError } from '../../lambdas/backfill/RepositoryLister.ts';

/** A fetch that answers from a table of URL to [body, headers], and records what it was asked. */
function fakeFetch(pages: Record<string, [unknown, Record<string, string>] | number>): { fetch: typeof fetch; asked: string[]; headers: Headers[] } {
  const asked: string[] = [];
  const headers: Headers[] = [];
  const fetchImpl = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    asked.push(url);
    headers.push(new Headers(init?.headers));
    const page = pages[url];
    if (page === undefined) return Promise.resolve(new Response('not found', { status: 404 }));
    if (typeof page === 'number') return Promise.resolve(new Response('error', { status: page }));
    return Promise.resolve(new Response(JSON.stringify(page[0]), { status: 200, headers: page[1] }));
  };
  return { fetch: fetchImpl, asked, headers };
}

describe('RepositoryLister', () => {
  it('GitLab: path_with_namespace, paged by X-Next-Page, counted by X-Total, with the private token', async () => {
    const base = 'https://gitlab.example.com/api/v4/projects?per_page=100&page=';
    const fake = fakeFetch({
      [`${base}1&order_by=id&sort=asc`]: [[{ path_with_namespace: 'a/one', wiki_enabled: true }, { path_with_namespace: 'b/two' }], { 'x-next-page': '2', 'x-total': '3' }],
      [`${base}2&order_by=id&sort=asc`]: [[{ path_with_namespace: 'c/three' }], { 'x-next-page': '', 'x-total': '3' }],
    });
    const lister = createRepositoryLister({ kind: 'gitlab', apiUrl: 'https://gitlab.example.com', token: 'glpat-x', fetch: fake.fetch });
    expect(await lister.listPage(undefined)).toMatchObject({ repositories: ['a/one', 'b/two'], next: '2', total: 3 });
    expect(await lister.listPage('2')).toMatchObject({ repositories: ['c/three'], total: 3 });
    expect(fake.headers[0]!.get('private-token')).toBe('glpat-x');
    // Each repository's own JSON comes along: replicable types read it (the wiki type: wiki_enabled).
    expect((await lister.listPage(undefined)).listings?.['a/one']).toEqual({ path_with_namespace: 'a/one', wiki_enabled: true });
  });

  it('GitHub: full_name of an organisation or a user, paged by the Link header', async () => {
    const fake = fakeFetch({
      'https://api.github.com/orgs/acme/repos?per_page=100&page=1': [[{ full_name: 'acme/api' }], { link: '<https://api.github.com/organizations/1/repos?per_page=100&page=2>; rel="next", <https://api.github.com/organizations/1/repos?per_page=100&page=5>; rel="last"' }],
      'https://api.github.com/users/someone/repos?per_page=100&page=1': [[{ full_name: 'someone/dotfiles' }], {}],
    });
    expect(await createRepositoryLister({ kind: 'github', apiUrl: 'https://api.github.com', owner: 'acme', fetch: fake.fetch }).listPage(undefined)).toMatchObject({ repositories: ['acme/api'], next: '2' });
    expect(await createRepositoryLister({ kind: 'github', apiUrl: 'https://api.github.com', owner: 'users/someone', fetch: fake.fetch }).listPage(undefined)).toMatchObject({ repositories: ['someone/dotfiles'] });
  });

  it('Gitea: the search API (data) or an organisation, paged by X-Total-Count', async () => {
    const fake = fakeFetch({
      'https://gitea.example.com/api/v1/repos/search?limit=50&page=1': [{ data: [{ full_name: 'x/y' }] }, { 'x-total-count': '51' }],
      'https://gitea.example.com/api/v1/orgs/acme/repos?limit=50&page=2': [[{ full_name: 'acme/z' }], { 'x-total-count': '51' }],
    });
    expect(await createRepositoryLister({ kind: 'gitea', apiUrl: 'https://gitea.example.com', fetch: fake.fetch }).listPage(undefined)).toMatchObject({ repositories: ['x/y'], next: '2', total: 51 });
    expect(await createRepositoryLister({ kind: 'gitea', apiUrl: 'https://gitea.example.com', owner: 'acme', fetch: fake.fetch }).listPage('2')).toMatchObject({ repositories: ['acme/z'], total: 51 });
  });

  it('tells a transient listing failure (5xx, 429) from a permanent one (401, 404), and reads a static list', async () => {
    const fake = fakeFetch({
      'https://h/api/v4/projects?per_page=100&page=1&order_by=id&sort=asc': 503,
      'https://g/api/v4/projects?per_page=100&page=1&order_by=id&sort=asc': 401,
    });
    await expect(createRepositoryLister({ kind: 'gitlab', apiUrl: 'https://h', fetch: fake.fetch }).listPage(undefined)).rejects.toMatchObject({ code: 'ERR_LISTING_FAILED', retryable: true });
    const permanent = createRepositoryLister({ kind: 'gitlab', apiUrl: 'https://g', fetch: fake.fetch }).listPage(undefined);
    await expect(permanent).rejects.toBeInstanceOf(ListingFailedError);
    await expect(permanent).rejects.toMatchObject({ retryable: false });
    expect(await createRepositoryLister({ kind: 'static', apiUrl: 'https://unused', repositories: ['a/b', 'c/d'] }).listPage(undefined)).toEqual({ repositories: ['a/b', 'c/d'], total: 2 });
  });
});
