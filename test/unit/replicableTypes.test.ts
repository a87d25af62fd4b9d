import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseWebhook, type WebhookPolicy } from '../../lambdas/notify/parseWebhook.ts';
import { primaryHostsOf } from '../../lambdas/notify/trustedHosts.ts';
import { blobTypes, REPLICABLE_TYPES, repositoriesOf, typeOfRepository } from '../../lambdas/replicable/registry.ts';
import { UntrustedHostError, ValidationError } from '../../lambdas/shared/errors/index.ts';
import { signed, type Delivery } from '../helpers/webhookSamples.ts';

const SECRET = 'wiki-secret';
const policy: WebhookPolicy = { secret: SECRET, maxBodyBytes: 1024 * 1024, primaryHosts: primaryHostsOf(['https://git.example.com']) };
const delivery = (headers: Record<string, string>, json: unknown): Delivery => signed({ headers: { 'content-type': 'application/json', ...headers }, body: Buffer.from(JSON.stringify(json)) }, SECRET);

const gitlabWikiPage = (url = 'https://git.example.com') =>
  delivery(
    { 'x-gitlab-event': 'Wiki Page Hook', 'x-gitlab-token': 'TOKEN', 'x-gitlab-event-uuid': 'c2a4b0b6-0000-4000-8000-000000000001' },
    {
      object_kind: 'wiki_page',
      user: { username: 'root' },
      project: { path_with_namespace: 'docs/handbook', web_url: `${url}/docs/handbook`, git_http_url: `${url}/docs/handbook.git` },
      wiki: { web_url: `${url}/docs/handbook/-/wikis/home`, git_ssh_url: 'git@git.example.com:docs/handbook.wiki.git', path_with_namespace: 'docs/handbook.wiki', default_branch: 'main' },
      object_attributes: { title: 'Home', action: 'update', slug: 'home' },
    },
  );

describe('replicable types: wikis come from their own events through the registry', () => {
  it('GitLab Wiki Page Hook, GitHub gollum and Gitea/Forgejo wiki events request a sync of <path>.wiki', () => {
    expect(parseWebhook(gitlabWikiPage(), policy).drafts).toEqual([expect.objectContaining({ kind: 'sync.requested', repository: 'docs/handbook.wiki', defaultBranch: 'refs/heads/main' })]);
    const repository = { full_name: 'octo/app', name: 'app', html_url: 'https://git.example.com/octo/app', clone_url: 'https://git.example.com/octo/app.git' };
    const gollum = delivery({ 'x-github-event': 'gollum', 'x-github-delivery': 'd-1', 'x-hub-signature-256': 'SIGNATURE' }, { pages: [{ page_name: 'Home', action: 'edited' }], repository });
    expect(parseWebhook(gollum, policy).drafts).toEqual([expect.objectContaining({ kind: 'sync.requested', repository: 'octo/app.wiki' })]);
    const gitea = delivery({ 'x-gitea-event': 'wiki', 'x-gitea-delivery': 'd-2', 'x-gitea-signature': 'SIGNATURE' }, { action: 'edited', page: 'Home', repository });
    expect(parseWebhook(gitea, policy).drafts).toEqual([expect.objectContaining({ kind: 'sync.requested', repository: 'octo/app.wiki' })]);
  });

  it('a wiki event naming another host is refused; a malformed one is a validation error; other events stay ignored', () => {
    expect(() => parseWebhook(gitlabWikiPage('https://evil.example.org'), policy)).toThrow(UntrustedHostError);
    const broken = delivery({ 'x-gitlab-event': 'Wiki Page Hook', 'x-gitlab-token': 'TOKEN', 'x-gitlab-event-uuid': 'u-2' }, { object_kind: 'wiki_page', project: {} });
    expect(() => parseWebhook(broken, policy)).toThrow(ValidationError);
    const issue = delivery({ 'x-gitlab-event': 'Issue Hook', 'x-gitlab-token': 'TOKEN', 'x-gitlab-event-uuid': 'u-3' }, { object_kind: 'issue' });
    expect(parseWebhook(issue, policy)).toEqual(expect.objectContaining({ drafts: [], ignored: expect.any(String) }));
  });

  it('adding the wiki type touched only its module and one registration', () => {
    // The registry lists each type once; the wiki type's module is the only place that knows wikis.
    expect(REPLICABLE_TYPES.map((type) => type.name)).toEqual(['repository', 'lfs-object', 'wiki']);
    expect(blobTypes().map((type) => type.name)).toEqual(['lfs-object']);
    const mentions = ['lambdas/notify/parseWebhook.ts', 'lambdas/sync/syncRepository.ts', 'lambdas/verify/verifyRepository.ts', 'lambdas/endpoint/RegionalGitEndpoint.ts', 'lambdas/replicable/blobSteps.ts'].filter((file) =>
      /wiki/i.test(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8')),
    );
    expect(mentions).toEqual([]);
  });

  it('backfill lists a project and, when the listing says it has one, its wiki; each path has one type', () => {
    expect(repositoriesOf({ path: 'octo/app', listing: { has_wiki: true } })).toEqual(['octo/app', 'octo/app.wiki']);
    expect(repositoriesOf({ path: 'group/project', listing: { wiki_enabled: true } })).toEqual(['group/project', 'group/project.wiki']);
    expect(repositoriesOf({ path: 'group/off', listing: { wiki_access_level: 'disabled', wiki_enabled: false } })).toEqual(['group/off']);
    expect(repositoriesOf({ path: 'static/listed' })).toEqual(['static/listed']);
    expect(typeOfRepository('octo/app.wiki')).toBe('wiki');
    expect(typeOfRepository('octo/app')).toBe('repository');
  });
});
