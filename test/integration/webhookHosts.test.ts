import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { chmod, copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { git } from '../../bin/local/git.ts';
import type { RefUpdate } from '../../bin/local/startGitServer.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { PROJECT_ROOT } from '../../cdk/constructs/GeoFunction.ts';
import { ZERO_OID } from '../../lambdas/shared/git/refName.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { recordedEvents, syncInvocations } from '../helpers/changeEvents.ts';
import { expectMirrorsMatchPrimary } from '../helpers/mirrorChecks.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { asForgejo, deliver, edited, retargeted, sample, signed, withHeaders, type Delivery, type JsonObject, type SampleName } from '../helpers/webhookSamples.ts';

/**
 * Every webhook event git-geo takes, in its vendor's documented shape (the samples in
 * test/fixtures/webhooks, pointed at a local repository), each after a real push to the local
 * primary, each ending in mirrors identical to the primary in every region.
 */
describe('webhooks from every host drive real replication', () => {
  let bed: TestBed;
  let regions: string[];

  beforeAll(async () => {
    bed = await startTestBed();
    regions = Object.keys(bed.runtime.regions);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  /** Pushes with stock git and answers the ref updates the primary received. */
  async function push(work: string, ...args: string[]): Promise<RefUpdate[]> {
    const count = bed.pushes.length;
    await git(['push', '-q', 'origin', ...args], { cwd: work });
    return bed.pushes.slice(count).flatMap((entry) => entry.updates);
  }

  async function deliverAndConverge(repository: RepositoryPath, delivery: Delivery): Promise<void> {
    const response = await deliver(bed.runtime.webhookUrl, delivery);
    expect(response.status).toBe(202);
    expect(response.body.accepted).toBe(1);
    const sequence = response.body.events[0].sequence as number;
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
  }

  async function newRepository(path: RepositoryPath): Promise<string> {
    await bed.createRepository(path);
    return await bed.workingCopy(path);
  }

  const mirrors = (): ReturnType<TestBed['runtime']['mirrors']>[] => regions.map((region) => bed.runtime.mirrors(region));

  describe('GitLab', () => {
    const repository = parseRepositoryPath('vendors/gitlab');
    const gitlab = (name: SampleName, from: string, edit: (json: JsonObject) => void): Delivery =>
      signed(
        withHeaders(edited(retargeted(sample(name), { host: 'example.com', repository: from }, { baseUrl: bed.primary.url, repository }), edit), {
          'idempotency-key': crypto.randomUUID(),
          'x-gitlab-instance': bed.primary.url,
        }),
        WEBHOOK_SECRET,
      );
    const setUpdate = (update: RefUpdate) => (json: JsonObject) => Object.assign(json, { ref: update.ref, before: update.before, after: update.after });
    let work: string;

    it('Push Hook (project webhook), for a new branch', async () => {
      work = await newRepository(repository);
      await commit(work, 2, 'gitlab');
      const [update] = await push(work, 'HEAD:main');
      await deliverAndConverge(repository, gitlab('gitlab-push', 'mike/diaspora', setUpdate(update!)));
    });

    it('Tag Push Hook, for an annotated tag', async () => {
      await git(['tag', '-a', 'v1', '-m', 'one'], { cwd: work });
      const [update] = await push(work, 'v1');
      expect(update?.before).toBe(ZERO_OID);
      await deliverAndConverge(repository, gitlab('gitlab-tag-push', 'jsmith/example', setUpdate(update!)));
    });

    it('System Hook repository_update, with several changes in one push', async () => {
      await commit(work, 1, 'system');
      await git(['tag', 'v2'], { cwd: work });
      const updates = await push(work, 'HEAD:main', 'HEAD:refs/heads/side', 'v2');
      expect(updates).toHaveLength(3);
      await deliverAndConverge(
        repository,
        gitlab('gitlab-system-repository-update', 'jsmith/example', (json) => {
          json.changes = updates.map(({ ref, before, after }) => ({ before, after, ref }));
          json.refs = updates.map((update) => update.ref);
        }),
      );
    });

    it('System Hook push and tag_push', async () => {
      await commit(work, 1, 'system-push');
      const [branch] = await push(work, 'HEAD:main');
      await deliverAndConverge(repository, gitlab('gitlab-system-push', 'mike/diaspora', setUpdate(branch!)));
      const [tagDeletion] = await push(work, ':refs/tags/v2');
      expect(tagDeletion?.after).toBe(ZERO_OID);
      await deliverAndConverge(repository, gitlab('gitlab-system-tag-push', 'jsmith/example', setUpdate(tagDeletion!)));
      await expectMirrorsMatchPrimary(mirrors(), repository, bed.primary.url, bed.root);
    });
  });

  describe('GitHub', () => {
    const repository = parseRepositoryPath('vendors/github');
    const github = (name: SampleName, from: string, event: string, edit: (json: JsonObject) => void): Delivery =>
      signed(
        withHeaders(edited(retargeted(sample(name), { host: 'github.com', repository: from }, { baseUrl: bed.primary.url, repository }), edit), {
          'x-github-event': event,
          'x-github-delivery': crypto.randomUUID(),
        }),
        WEBHOOK_SECRET,
      );
    const pushed = (update: RefUpdate, flags: { created?: boolean; deleted?: boolean; forced?: boolean }) => (json: JsonObject) =>
      Object.assign(json, { ref: update.ref, before: update.before, after: update.after, created: false, deleted: false, forced: false, ...flags });
    let work: string;

    it('ping is accepted and records nothing', async () => {
      work = await newRepository(repository);
      const invocations = syncInvocations(bed.runtime);
      const ping = signed(
        withHeaders({ headers: sample('github-push').headers, body: Buffer.from(JSON.stringify({ zen: 'Design for failure.', hook_id: 1 })) }, { 'x-github-event': 'ping' }),
        WEBHOOK_SECRET,
      );
      const response = await deliver(bed.runtime.webhookUrl, ping);
      expect(response.status).toBe(202);
      expect(response.body).toMatchObject({ accepted: 0, events: [] });
      expect(await recordedEvents(bed.runtime, repository)).toEqual([]);
      expect(syncInvocations(bed.runtime)).toBe(invocations);
    });

    it('push that creates a branch (created: true)', async () => {
      await commit(work, 2, 'github');
      const [update] = await push(work, 'HEAD:main');
      await deliverAndConverge(repository, github('github-push-new-branch', 'Codertocat/Hello-World', 'push', pushed(update!, { created: true })));
    });

    it('push that updates a branch, and a forced push (forced: true)', async () => {
      await commit(work, 1, 'update');
      const [update] = await push(work, 'HEAD:main');
      await deliverAndConverge(repository, github('github-push', 'baxterthehacker/public-repo', 'push', pushed(update!, {})));
      await git(['reset', '-q', '--hard', 'HEAD~2'], { cwd: work });
      await commit(work, 1, 'rewrite');
      const [forced] = await push(work, '--force', 'HEAD:main');
      await deliverAndConverge(repository, github('github-push', 'baxterthehacker/public-repo', 'push', pushed(forced!, { forced: true })));
    });

    it('create (a tag, short ref name) and push that deletes it (deleted: true)', async () => {
      await git(['tag', 'simple-tag'], { cwd: work });
      await push(work, 'simple-tag');
      await deliverAndConverge(repository, github('github-create', 'Codertocat/Hello-World', 'create', (json) => void (json.ref = 'simple-tag')));
      const [deletion] = await push(work, ':refs/tags/simple-tag');
      await deliverAndConverge(repository, github('github-push-tag-deleted', 'Codertocat/Hello-World', 'push', pushed(deletion!, { deleted: true })));
    });

    it('delete (a branch, short ref name)', async () => {
      await push(work, 'HEAD:refs/heads/topic');
      await deliverAndConverge(repository, github('github-create', 'Codertocat/Hello-World', 'create', (json) => void ((json.ref = 'topic'), (json.ref_type = 'branch'))));
      await push(work, ':refs/heads/topic');
      await deliverAndConverge(repository, github('github-delete', 'Codertocat/Hello-World', 'delete', (json) => void ((json.ref = 'topic'), (json.ref_type = 'branch'))));
    });

    it('repository edited: a new default branch', async () => {
      await push(work, 'HEAD:refs/heads/trunk');
      await git(['symbolic-ref', 'HEAD', 'refs/heads/trunk'], { cwd: join(bed.root, 'primary', `${repository}.git`) });
      await deliverAndConverge(
        repository,
        github('github-repository-renamed', 'Octocoders/Hello-World', 'repository', (json) => {
          json.action = 'edited';
          json.changes = { default_branch: { from: 'main' } };
          json.repository.default_branch = 'trunk';
        }),
      );
      const refs = await expectMirrorsMatchPrimary(mirrors(), repository, bed.primary.url, bed.root);
      expect(refs.get('HEAD')).toBe('refs/heads/trunk');
    });
  });

  describe('Gitea and Forgejo', () => {
    const giteaRepository = parseRepositoryPath('vendors/gitea');
    const gitea = (repository: RepositoryPath, event: string, body: (json: JsonObject) => JsonObject): Delivery => {
      const local = retargeted(sample('gitea-push'), { host: 'localhost:3000', repository: 'gitea/webhooks' }, { baseUrl: bed.primary.url, repository });
      const json = JSON.parse(local.body.toString()) as JsonObject;
      const delivery = crypto.randomUUID();
      return {
        headers: { ...local.headers, 'x-gitea-event': event, 'x-gitea-event-type': event, 'x-gitea-delivery': delivery, 'x-github-event': event, 'x-github-delivery': delivery },
        body: Buffer.from(JSON.stringify(body(json))),
      };
    };
    let work: string;

    it('Gitea push', async () => {
      work = await newRepository(giteaRepository);
      await commit(work, 2, 'gitea');
      const [update] = await push(work, 'HEAD:main');
      await deliverAndConverge(giteaRepository, signed(gitea(giteaRepository, 'push', (json) => ({ ...json, ref: update!.ref, before: update!.before, after: update!.after })), WEBHOOK_SECRET));
    });

    it('Gitea create (with its sha) and delete, signed with X-Hub-Signature-256 only', async () => {
      const [tag] = await push(work, 'HEAD:refs/tags/v0.1');
      const create = gitea(giteaRepository, 'create', (json) => ({ ref: 'v0.1', ref_type: 'tag', sha: tag!.after, repository: json.repository, sender: json.sender }));
      await deliverAndConverge(giteaRepository, withHeaders(signed(create, WEBHOOK_SECRET), { 'x-gitea-signature': undefined, 'x-gogs-signature': undefined }));
      await push(work, ':refs/tags/v0.1');
      await deliverAndConverge(
        giteaRepository,
        signed(gitea(giteaRepository, 'delete', (json) => ({ ref: 'v0.1', ref_type: 'tag', pusher_type: 'user', repository: json.repository, sender: json.sender })), WEBHOOK_SECRET),
      );
      await expectMirrorsMatchPrimary(mirrors(), giteaRepository, bed.primary.url, bed.root);
    });

    it('Forgejo push', async () => {
      const repository = parseRepositoryPath('vendors/forgejo');
      const copy = await newRepository(repository);
      await commit(copy, 1, 'forgejo');
      const [update] = await push(copy, 'HEAD:main');
      const delivery = signed(asForgejo(gitea(repository, 'push', (json) => ({ ...json, ref: update!.ref, before: update!.before, after: update!.after }))), WEBHOOK_SECRET);
      await deliverAndConverge(repository, delivery);
      expect((await recordedEvents(bed.runtime, repository)).map((event) => event.source)).toEqual(['forgejo']);
    });
  });

  describe('any other git server: the post-receive hook shipped in bin/', () => {
    it('installed in a bare repository, it notifies git-geo of each push with the generic signed format', async () => {
      const repository = parseRepositoryPath('vendors/plain-git');
      await bed.createRepository(repository);
      const bare = join(bed.root, 'primary', `${repository}.git`);
      const secretFile = join(bed.root, 'webhook-secret');
      await writeFile(secretFile, `${WEBHOOK_SECRET}\n`, { mode: 0o600 });
      await copyFile(join(PROJECT_ROOT, 'bin', 'post-receive'), join(bare, 'hooks', 'post-receive'));
      await chmod(join(bare, 'hooks', 'post-receive'), 0o755);
      await git(['config', 'geo.webhookUrl', bed.runtime.webhookUrl], { cwd: bare });
      await git(['config', 'geo.secretFile', secretFile], { cwd: bare });
      await git(['config', 'geo.root', join(bed.root, 'primary')], { cwd: bare });

      const work = await bed.workingCopy(repository);
      await commit(work, 3, 'hooked');
      await git(['tag', '-a', 'v1', '-m', 'one'], { cwd: work });
      // No webhook is sent by the test: the hook, run by git receive-pack, does it.
      await git(['push', '-q', 'origin', 'HEAD:main', 'v1'], { cwd: work });
      await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 60_000 });
      const [event] = await recordedEvents(bed.runtime, repository);
      expect(event).toMatchObject({ source: 'generic', kind: 'push' });
      expect(event?.changes.map((change) => change.ref).sort()).toEqual(['refs/heads/main', 'refs/tags/v1']);

      await commit(work, 1, 'again');
      await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
      await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, timeoutMs: 60_000 });
      expect(await recordedEvents(bed.runtime, repository)).toHaveLength(2);
      await expectMirrorsMatchPrimary(mirrors(), repository, bed.primary.url, bed.root);
    });
  });
});
