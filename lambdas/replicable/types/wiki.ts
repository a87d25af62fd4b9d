import * as z from 'zod';
import { parseWith } from '../../notify/hosts/parseWith.ts';
import { assertTrustedUrls } from '../../notify/trustedHosts.ts';
import type { ChangeDraftInput } from '../../shared/events/ChangeEvent.ts';
import type { HostEvent, ListedProject, ReplicableType } from '../ReplicableType.ts';

const Urls = z.record(z.string(), z.unknown());
/** GitLab's Wiki Page Hook: the project, and the wiki's own repository. */
const GitLabWikiPage = z.object({
  object_kind: z.literal('wiki_page'),
  project: z.object({ path_with_namespace: z.string() }).and(Urls),
  wiki: z.object({ default_branch: z.string().nullish() }).and(Urls).nullish(),
});
/** GitHub's gollum and Gitea's / Forgejo's wiki events: the repository whose wiki changed. */
const RepositoryWikiEvent = z.object({ repository: z.object({ full_name: z.string() }).and(Urls) });

const URL_FIELDS = ['web_url', 'git_http_url', 'git_ssh_url', 'http_url', 'ssh_url', 'homepage', 'url', 'clone_url', 'html_url', 'git_url', 'svn_url'];
const urlsIn = (holder: Record<string, unknown> | null | undefined): unknown[] => URL_FIELDS.map((field) => holder?.[field]);

const repositoryOf = (projectPath: string): string => `${projectPath}.wiki`;
const owns = (repositoryPath: string): boolean => repositoryPath.endsWith('.wiki');

/**
 * Backfill: a project's wiki when the listing says the project has one (GitHub and Gitea
 * `has_wiki`, GitLab `wiki_enabled` / `wiki_access_level`). An enabled wiki with no page yet has
 * no repository on the primary: its sync finds nothing and records it absent, not failed.
 */
function list(project: ListedProject): readonly string[] {
  const listing = project.listing ?? {};
  const enabled = listing.has_wiki === true || listing.wiki_enabled === true || (typeof listing.wiki_access_level === 'string' && listing.wiki_access_level !== 'disabled');
  return enabled && !owns(project.path) ? [repositoryOf(project.path)] : [];
}

/** Which host events are wiki edits, and the wiki they changed. */
function events(event: HostEvent): readonly ChangeDraftInput[] | undefined {
  const { source, eventName, json, trust } = event;
  if (source === 'gitlab' && (eventName === 'Wiki Page Hook' || (eventName === 'System Hook' && (json as { object_kind?: unknown }).object_kind === 'wiki_page'))) {
    const hook = parseWith(GitLabWikiPage, json, 'GitLab Wiki Page Hook');
    assertTrustedUrls([...urlsIn(hook.project), ...urlsIn(hook.wiki)], trust);
    const branch = hook.wiki?.default_branch;
    return [{ kind: 'sync.requested', repository: repositoryOf(hook.project.path_with_namespace), ...(branch ? { defaultBranch: `refs/heads/${branch}` } : {}) }];
  }
  if ((source === 'github' && eventName === 'gollum') || ((source === 'gitea' || source === 'forgejo') && eventName === 'wiki')) {
    const hook = parseWith(RepositoryWikiEvent, json, `${source} ${eventName} event`);
    assertTrustedUrls(urlsIn(hook.repository), trust);
    return [{ kind: 'sync.requested', repository: repositoryOf(hook.repository.full_name) }];
  }
  return undefined;
}

/**
 * Wikis: on GitLab, GitHub, Gitea and Forgejo a project's wiki is a Git repository of its own at
 * `<path>.wiki.git`, changed through the web editor and announced by its own events (GitLab
 * Wiki Page Hook, GitHub gollum, Gitea wiki), and listed by backfill for the projects that have
 * one. Everything else (sync, verification, registry, selective sync, status, serving at
 * `<path>.wiki.git`) is the repository strategy's.
 */
export const wiki: ReplicableType = { name: 'wiki', strategy: 'repository', events, repositoryOf, owns, list };
