import { describe, expect, it } from '@jest/globals';
import { parseWebhook, type WebhookPolicy } from '../../lambdas/notify/parseWebhook.ts';
import { primaryHostsOf } from '../../lambdas/notify/trustedHosts.ts';
import { AuthenticationError, type GeoError, UnsupportedEventError, UntrustedHostError, ValidationError } from '../../lambdas/shared/errors/index.ts';
import { asForgejo, edited, genericDelivery, sample, signed, withHeaders, type Delivery, type SampleName } from '../helpers/webhookSamples.ts';

const SECRET = 'It is a truth universally acknowledged';
const ZERO = '0000000000000000000000000000000000000000';
const NOW = new Date('2024-06-01T12:00:00Z');

/** Every host the documented samples name, trusted unless a test says otherwise. */
const SAMPLE_HOSTS = ['http://example.com', 'https://gitlab.com', 'https://gitlab.example.com', 'https://github.com', 'http://localhost:3000'];

function policy(overrides: Partial<WebhookPolicy> = {}): WebhookPolicy {
  return { secret: SECRET, maxBodyBytes: 1024 * 1024, primaryHosts: primaryHostsOf(SAMPLE_HOSTS), now: () => NOW, ...overrides };
}

function failure(delivery: Delivery, type: abstract new (...args: never[]) => GeoError, status: number, webhookPolicy = policy()): GeoError {
  try {
    parseWebhook(delivery, webhookPolicy);
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    expect((error as GeoError).status).toBe(status);
    return error as GeoError;
  }
  throw new Error(`parseWebhook accepted the delivery; expected ${type.name}`);
}

const ok = (name: SampleName): Delivery => signed(sample(name), SECRET);

describe('GitLab system hooks (documented samples)', () => {
  it('repository_update becomes one push with every change in changes[]', () => {
    const parsed = parseWebhook(ok('gitlab-system-repository-update'), policy());
    expect(parsed).toMatchObject({ source: 'gitlab', eventName: 'System Hook repository_update', deliveryId: 'f5e5f430-f57b-4e6e-9fac-d9128cd7232f' });
    expect(parsed.drafts).toEqual([
      {
        kind: 'push',
        repository: 'jsmith/example',
        changes: [{ ref: 'refs/heads/master', before: '8205ea8d81ce0c6b90fbe8280d118cc9fdad6130', after: '4045ea7a3df38697b3730a20fb73c8bed8a3e69e' }],
        defaultBranch: 'refs/heads/master',
      },
    ]);
  });

  it('push and tag_push become push drafts for their ref', () => {
    expect(parseWebhook(ok('gitlab-system-push'), policy()).drafts[0]).toMatchObject({
      kind: 'push',
      repository: 'mike/diaspora',
      changes: [{ ref: 'refs/heads/master', before: '95790bf891e76fee5e1747ab589903a6a1f80f22', after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' }],
    });
    expect(parseWebhook(ok('gitlab-system-tag-push'), policy()).drafts[0]).toMatchObject({
      repository: 'jsmith/example',
      changes: [{ ref: 'refs/tags/v1.0.0', before: ZERO, after: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7' }],
    });
  });

  it('project_create, project_destroy, project_rename and project_transfer become lifecycle events', () => {
    expect(parseWebhook(ok('gitlab-system-project-create'), policy()).drafts).toEqual([{ kind: 'repository.created', repository: 'jsmith/storecloud', changes: [] }]);
    expect(parseWebhook(ok('gitlab-system-project-destroy'), policy()).drafts).toEqual([{ kind: 'repository.deleted', repository: 'jsmith/underscore', changes: [] }]);
    expect(parseWebhook(ok('gitlab-system-project-rename'), policy()).drafts).toEqual([
      { kind: 'repository.renamed', repository: 'jsmith/underscore', previousRepository: 'jsmith/overscore', changes: [] },
    ]);
    expect(parseWebhook(ok('gitlab-system-project-transfer'), policy()).drafts).toEqual([
      { kind: 'repository.renamed', repository: 'scores/underscore', previousRepository: 'jsmith/overscore', changes: [] },
    ]);
  });

  it('system hooks for things that are not repositories are accepted and ignored', () => {
    const parsed = parseWebhook(signed(edited(sample('gitlab-system-project-create'), (json) => void (json.event_name = 'user_create')), SECRET), policy());
    expect(parsed.drafts).toEqual([]);
    expect(parsed.ignored).toContain('user_create');
  });

  it('a repository_update with more changes than an event may carry keeps the push, without its changes', () => {
    const many = signed(
      edited(sample('gitlab-system-repository-update'), (json) => {
        json.changes = Array.from({ length: 10_001 }, (_, i) => ({ before: ZERO, after: 'a'.repeat(40), ref: `refs/tags/t${i}` }));
      }),
      SECRET,
    );
    expect(parseWebhook(many, policy({ maxBodyBytes: 5 * 1024 * 1024 })).drafts).toEqual([
      { kind: 'push', repository: 'jsmith/example', changes: [], changesOmitted: true, defaultBranch: 'refs/heads/master' },
    ]);
  });

  it('X-Gitlab-Instance must name a configured primary too', () => {
    const error = failure(ok('gitlab-system-project-destroy'), UntrustedHostError, 422, policy({ primaryHosts: primaryHostsOf(['http://example.com']) }));
    expect(error.data).toEqual({ host: 'gitlab.example.com' });
  });

  it('every URL field of the project is checked, the SSH ones included', () => {
    const hostile = signed(edited(sample('gitlab-system-repository-update'), (json) => void (json.project.git_ssh_url = 'git@evil.example.net:jsmith/example.git')), SECRET);
    expect(failure(hostile, UntrustedHostError, 422).data).toEqual({ host: 'evil.example.net' });
  });

  it('a wrong or missing token is refused before the body is read', () => {
    failure(withHeaders(ok('gitlab-system-project-destroy'), { 'x-gitlab-token': 'TOKEN' }), AuthenticationError, 401);
    failure(withHeaders(sample('gitlab-system-project-destroy'), { 'x-gitlab-token': undefined }), AuthenticationError, 401);
  });
});

describe('GitHub (documented samples)', () => {
  it('push: an update, a new branch and a deleted tag, with full ref names and object ids', () => {
    const update = parseWebhook(ok('github-push'), policy());
    expect(update).toMatchObject({ source: 'github', eventName: 'push', deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958' });
    expect(update.drafts).toEqual([
      {
        kind: 'push',
        repository: 'baxterthehacker/public-repo',
        changes: [{ ref: 'refs/heads/changes', before: '9049f1265b7d61be4a8904a9a27120d2064dab3b', after: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c' }],
        defaultBranch: 'refs/heads/master',
      },
    ]);
    expect(parseWebhook(ok('github-push-new-branch'), policy()).drafts[0]?.changes).toEqual([
      { ref: 'refs/heads/master', before: ZERO, after: '6113728f27ae82c7b1a177c8d03f9e96e0adf246' },
    ]);
    expect(parseWebhook(ok('github-push-tag-deleted'), policy()).drafts[0]?.changes).toEqual([
      { ref: 'refs/tags/simple-tag', before: '6113728f27ae82c7b1a177c8d03f9e96e0adf246', after: ZERO },
    ]);
  });

  it('create and delete (short ref names, no object ids) ask for a sync of the repository', () => {
    expect(parseWebhook(ok('github-create'), policy()).drafts).toEqual([{ kind: 'push', repository: 'Codertocat/Hello-World', changes: [], defaultBranch: 'refs/heads/master' }]);
    expect(parseWebhook(ok('github-delete'), policy()).drafts).toEqual([{ kind: 'push', repository: 'Codertocat/Hello-World', changes: [], defaultBranch: 'refs/heads/master' }]);
  });

  it('repository renamed: the sample renames to the same name, which moves nothing; a real rename moves', () => {
    expect(parseWebhook(ok('github-repository-renamed'), policy()).drafts).toEqual([{ kind: 'sync.requested', repository: 'Octocoders/Hello-World', changes: [] }]);
    const renamed = signed(edited(sample('github-repository-renamed'), (json) => void (json.changes.repository.name.from = 'Old-World')), SECRET);
    expect(parseWebhook(renamed, policy()).drafts).toEqual([
      { kind: 'repository.renamed', repository: 'Octocoders/Hello-World', previousRepository: 'Octocoders/Old-World', changes: [], defaultBranch: 'refs/heads/master' },
    ]);
  });

  it('repository transferred and deleted', () => {
    const transferred = signed(
      edited(sample('github-repository-renamed'), (json) => {
        json.action = 'transferred';
        json.changes = { owner: { from: { user: { login: 'Codertocat' } } } };
      }),
      SECRET,
    );
    expect(parseWebhook(transferred, policy()).drafts[0]).toMatchObject({ kind: 'repository.renamed', repository: 'Octocoders/Hello-World', previousRepository: 'Codertocat/Hello-World' });
    const deleted = signed(edited(sample('github-repository-renamed'), (json) => void ((json.action = 'deleted'), delete json.changes)), SECRET);
    expect(parseWebhook(deleted, policy()).drafts).toEqual([{ kind: 'repository.deleted', repository: 'Octocoders/Hello-World', changes: [] }]);
  });

  it('a default branch edit is a HEAD change; other edits are ignored', () => {
    const headEdit = signed(edited(sample('github-repository-renamed'), (json) => void ((json.action = 'edited'), (json.changes = { default_branch: { from: 'main' } }))), SECRET);
    expect(parseWebhook(headEdit, policy()).drafts[0]).toMatchObject({ kind: 'head.changed', defaultBranch: 'refs/heads/master' });
    const otherEdit = signed(edited(sample('github-repository-renamed'), (json) => void ((json.action = 'edited'), (json.changes = { description: { from: '' } }))), SECRET);
    expect(parseWebhook(otherEdit, policy()).ignored).toBeDefined();
  });

  it('the form-encoded content type (the default in GitHub\'s form) carries the same JSON in "payload", signed as sent', () => {
    const json = sample('github-push').body.toString('utf8');
    const form = signed(withHeaders({ headers: sample('github-push').headers, body: Buffer.from(`payload=${encodeURIComponent(json)}`) }, { 'content-type': 'application/x-www-form-urlencoded' }), SECRET);
    expect(parseWebhook(form, policy()).drafts).toEqual(parseWebhook(ok('github-push'), policy()).drafts);
    failure(signed(withHeaders({ headers: sample('github-push').headers, body: Buffer.from('other=1') }, { 'content-type': 'application/x-www-form-urlencoded' }), SECRET), ValidationError, 400);
  });

  it('ping is accepted with nothing to record', () => {
    const ping = signed(withHeaders({ headers: sample('github-push').headers, body: Buffer.from('{"zen":"Keep it logically awesome.","hook_id":1}') }, { 'x-github-event': 'ping' }), SECRET);
    const parsed = parseWebhook(ping, policy());
    expect(parsed.drafts).toEqual([]);
    expect(parsed.ignored).toContain('ping');
  });

  it('X-Hub-Signature-256 is required and checked over the raw bytes; the legacy SHA-1 header alone is not enough', () => {
    const good = ok('github-push');
    failure(withHeaders(good, { 'x-hub-signature-256': undefined }), AuthenticationError, 401);
    failure(withHeaders(good, { 'x-hub-signature-256': 'sha256=' }), AuthenticationError, 401);
    failure(withHeaders(good, { 'x-hub-signature-256': good.headers['x-hub-signature-256']!.replace('sha256=', 'sha1=') }), AuthenticationError, 401);
    // One byte of whitespace more, and the signature no longer matches: no re-serialisation before checking.
    failure({ headers: good.headers, body: Buffer.concat([good.body, Buffer.from(' ')]) }, AuthenticationError, 401);
    expect(parseWebhook(withHeaders(good, { 'x-hub-signature-256': good.headers['x-hub-signature-256']!.toUpperCase().replace('SHA256=', 'sha256=') }), policy()).drafts).toHaveLength(1);
  });

  it('clone_url, html_url, git_url and ssh_url must all name a configured primary', () => {
    for (const field of ['clone_url', 'html_url', 'git_url', 'ssh_url']) {
      const hostile = signed(edited(sample('github-push'), (json) => void (json.repository[field] = field === 'ssh_url' ? 'git@169.254.169.254:x/y.git' : 'https://169.254.169.254/x/y')), SECRET);
      expect(failure(hostile, UntrustedHostError, 422).data).toEqual({ host: '169.254.169.254' });
    }
  });
});

describe('Gitea and Forgejo', () => {
  it('a Gitea push (the documented sample) becomes a push; the deprecated body secret is ignored', () => {
    const parsed = parseWebhook(ok('gitea-push'), policy());
    expect(parsed).toMatchObject({ source: 'gitea', eventName: 'push', deliveryId: 'f6266f16-1bf3-46a5-9ea4-602e06ead473' });
    expect(parsed.drafts).toEqual([
      {
        kind: 'push',
        repository: 'gitea/webhooks',
        changes: [{ ref: 'refs/heads/develop', before: '28e1879d029cb852e4844d9c718537df08844e03', after: 'bffeb74224043ba2feb48d137756c8a9331c449a' }],
        defaultBranch: 'refs/heads/main',
      },
    ]);
    // The sample also carries X-GitHub-Event: Gitea is recognised first, and signed its own way.
    expect(sample('gitea-push').headers['x-github-event']).toBe('push');
  });

  it('the body "secret" field never authenticates', () => {
    const unsigned = withHeaders(sample('gitea-push'), { 'x-gitea-signature': undefined, 'x-gogs-signature': undefined, 'x-hub-signature': undefined, 'x-hub-signature-256': undefined });
    failure(unsigned, AuthenticationError, 401, policy({ secret: '3gEsCfjlV2ugRwgpU#w1*WaW*wa4NXgGmpCfkbG3' }));
  });

  it('X-Gitea-Signature is bare hex; without it, X-Hub-Signature-256 is checked; a wrong one is never skipped', () => {
    const good = ok('gitea-push');
    expect(good.headers['x-gitea-signature']).toMatch(/^[0-9a-f]{64}$/);
    expect(parseWebhook(withHeaders(good, { 'x-gitea-signature': undefined }), policy()).drafts).toHaveLength(1);
    failure(withHeaders(good, { 'x-gitea-signature': '0'.repeat(64) }), AuthenticationError, 401);
    failure(withHeaders(good, { 'x-gitea-signature': `sha256=${good.headers['x-gitea-signature']}` }), AuthenticationError, 401);
    // Gitea with no secret configured sends empty signatures.
    failure(withHeaders(good, { 'x-gitea-signature': '', 'x-hub-signature-256': 'sha256=' }), AuthenticationError, 401);
  });

  it('create (with its sha), delete and repository events, in Gitea structs shape', () => {
    const base = JSON.parse(sample('gitea-push').body.toString('utf8')) as { repository: unknown; sender: unknown };
    const event = (name: string, body: Record<string, unknown>): Delivery =>
      signed({ headers: { ...sample('gitea-push').headers, 'x-gitea-event': name, 'x-gitea-event-type': name }, body: Buffer.from(JSON.stringify({ ...body, repository: base.repository, sender: base.sender })) }, SECRET);
    expect(parseWebhook(event('create', { ref: 'v1.2', ref_type: 'tag', sha: 'bffeb74224043ba2feb48d137756c8a9331c449a' }), policy()).drafts[0]?.changes).toEqual([
      { ref: 'refs/tags/v1.2', before: ZERO, after: 'bffeb74224043ba2feb48d137756c8a9331c449a' },
    ]);
    expect(parseWebhook(event('delete', { ref: 'develop', ref_type: 'branch', pusher_type: 'user' }), policy()).drafts).toEqual([
      { kind: 'push', repository: 'gitea/webhooks', changes: [], defaultBranch: 'refs/heads/main' },
    ]);
    expect(parseWebhook(event('repository', { action: 'created' }), policy()).drafts[0]?.kind).toBe('repository.created');
    expect(parseWebhook(event('repository', { action: 'deleted' }), policy()).drafts[0]?.kind).toBe('repository.deleted');
    expect(parseWebhook(event('issues', { action: 'opened' }), policy()).ignored).toBeDefined();
  });

  it('Forgejo is recognised before Gitea and checks X-Forgejo-Signature', () => {
    const forgejo = signed(asForgejo(sample('gitea-push')), SECRET);
    const parsed = parseWebhook(forgejo, policy());
    expect(parsed.source).toBe('forgejo');
    expect(parsed.deliveryId).toBe('f6266f16-1bf3-46a5-9ea4-602e06ead473');
    failure(withHeaders(forgejo, { 'x-forgejo-signature': 'a'.repeat(64) }), AuthenticationError, 401);
  });
});

describe('the generic format', () => {
  const body = { repository: 'tools/build', changes: [{ ref: 'refs/heads/main', before: ZERO, after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' }] };
  const delivery = (overrides: Partial<Parameters<typeof genericDelivery>[0]> = {}): Delivery =>
    genericDelivery({ secret: SECRET, event: 'push', body, delivery: 'hook-0123456789', timestamp: NOW.getTime() / 1000, ...overrides });

  it('a signed push becomes a push draft, deduplicated by X-Git-Geo-Delivery', () => {
    expect(parseWebhook(delivery(), policy())).toMatchObject({ source: 'generic', deliveryId: 'hook-0123456789', drafts: [{ kind: 'push', repository: 'tools/build', changes: body.changes }] });
  });

  it('lifecycle events, with previousRepository only for a rename', () => {
    expect(parseWebhook(delivery({ event: 'repository.renamed', body: { repository: 'tools/b', previousRepository: 'tools/a' } }), policy()).drafts[0]).toMatchObject({ previousRepository: 'tools/a' });
    failure(delivery({ event: 'repository.renamed', body: { repository: 'tools/b' } }), ValidationError, 400);
    failure(delivery({ event: 'push', body: { repository: 'tools/b', previousRepository: 'tools/a' } }), ValidationError, 400);
    failure(delivery({ event: 'repository.exploded' }), ValidationError, 400);
  });

  it('the signature covers the timestamp: a replay more than five minutes later is refused', () => {
    failure(delivery({ timestamp: NOW.getTime() / 1000 - 301 }), AuthenticationError, 401);
    const good = delivery();
    failure(withHeaders(good, { 'x-git-geo-timestamp': String(NOW.getTime() / 1000 + 1) }), AuthenticationError, 401);
    failure(withHeaders(good, { 'x-git-geo-signature-256': undefined }), AuthenticationError, 401);
  });

  it('unknown fields are refused, so a typo is not silently ignored', () => {
    failure(delivery({ body: { ...body, repositroy: 'x/y' } }), ValidationError, 400);
  });

  it('a url naming another host is refused', () => {
    failure(delivery({ body: { ...body, url: 'http://10.0.0.1/tools/build.git' } }), UntrustedHostError, 422);
  });
});

describe('hostile repository paths, in every vendor', () => {
  const HOSTILE = ['../../etc/passwd', '/abs/path', 'a/./b', 'ctl\u0007/x', `${'a'.repeat(300)}/x`, 'group/proj\r\nX-Injected: 1', 'a\\b'];
  const vendors: [string, (path: string) => Delivery][] = [
    ['GitLab push hook', (path) => edited(sample('gitlab-push'), (json) => void (json.project.path_with_namespace = path))],
    ['GitLab system hook', (path) => edited(sample('gitlab-system-project-destroy'), (json) => void (json.path_with_namespace = path))],
    ['GitLab rename (old path)', (path) => edited(sample('gitlab-system-project-rename'), (json) => void (json.old_path_with_namespace = path))],
    ['GitHub push', (path) => edited(sample('github-push'), (json) => void (json.repository.full_name = path))],
    ['GitHub rename (old name)', (path) => edited(sample('github-repository-renamed'), (json) => void (json.changes.repository.name.from = path))],
    ['Gitea push', (path) => edited(sample('gitea-push'), (json) => void (json.repository.full_name = path))],
    ['Forgejo push', (path) => asForgejo(edited(sample('gitea-push'), (json) => void (json.repository.full_name = path)))],
  ];
  it.each(vendors)('%s: every hostile path is a 400 naming the problem', (_vendor, build) => {
    for (const path of HOSTILE) {
      const error = failure(signed(build(path), SECRET), ValidationError, 400);
      expect(JSON.stringify(error.data)).toMatch(/invalid repository path/);
    }
  });
  it('generic: every hostile path is a 400', () => {
    for (const path of HOSTILE) failure(genericDelivery({ secret: SECRET, event: 'push', body: { repository: path }, timestamp: NOW.getTime() / 1000 }), ValidationError, 400);
  });
});

describe('host recognition', () => {
  it('a request with no known event header is refused', () => {
    failure({ headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') }, UnsupportedEventError, 400);
  });

  it("a host's headers choose its signature scheme: a valid GitHub signature does not pass as GitLab", () => {
    failure(withHeaders(ok('github-push'), { 'x-gitlab-event': 'Push Hook' }), AuthenticationError, 401);
  });
});
