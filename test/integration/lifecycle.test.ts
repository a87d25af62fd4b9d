import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { mirrorPrefix } from '../../lambdas/shared/git/MirrorRepository.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { TOMBSTONE_PREFIX } from '../../lambdas/sync/tombstonePrefix.ts';
import { recordedEvents, sendToRegion } from '../helpers/changeEvents.ts';
import { eventually } from '../helpers/eventually.ts';
import { cloneMirror, clonePrefix, expectMirrorsMatchPrimary, fetchesOf, mirrorContents } from '../helpers/mirrorChecks.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { deliver, edited, retargeted, sample, signed, withHeaders, type Delivery, type JsonObject, type SampleName } from '../helpers/webhookSamples.ts';

describe('repository lifecycle: created, deleted, renamed, transferred', () => {
  let bed: TestBed;
  let regions: string[];

  beforeAll(async () => {
    bed = await startTestBed();
    regions = Object.keys(bed.runtime.regions);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  const bare = (path: string): string => join(bed.root, 'primary', `${path}.git`);

  /** A GitLab system hook from the documented sample, edited, sent by "our" GitLab instance. */
  function gitlabSystemHook(name: SampleName, edit: (json: JsonObject) => void): Delivery {
    return signed(withHeaders(edited(sample(name), edit), { 'x-gitlab-instance': bed.primary.url, 'idempotency-key': crypto.randomUUID() }), WEBHOOK_SECRET);
  }

  /** A GitHub repository event from the documented sample, pointed at a local repository. */
  function githubRepositoryEvent(repository: string, edit: (json: JsonObject) => void): Delivery {
    const local = retargeted(sample('github-repository-renamed'), { host: 'github.com', repository: 'Octocoders/Hello-World' }, { baseUrl: bed.primary.url, repository });
    const [owner, name] = [repository.slice(0, repository.lastIndexOf('/')), repository.slice(repository.lastIndexOf('/') + 1)];
    return signed(
      withHeaders(
        edited(local, (json) => {
          json.repository.name = name;
          json.repository.owner.login = owner;
          edit(json);
        }),
        { 'x-github-delivery': crypto.randomUUID() },
      ),
      WEBHOOK_SECRET,
    );
  }

  async function send(delivery: Delivery): Promise<number> {
    const response = await deliver(bed.runtime.webhookUrl, delivery);
    expect(response.status).toBe(202);
    return response.body.events[0].sequence as number;
  }

  async function stateIn(region: string, repository: RepositoryPath, accept: (state: RepositoryState) => boolean): Promise<RepositoryState> {
    return await eventually(
      async () => {
        const state = await bed.runtime.registry(region).get(repository);
        return state !== undefined && accept(state) ? state : undefined;
      },
      { describe: async () => JSON.stringify(await bed.runtime.registry(region).get(repository)) },
    );
  }

  async function keysUnder(region: string, prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const object of bed.runtime.mirrors(region).list(prefix)) keys.push(object.key);
    return keys;
  }

  /** A repository on the primary with a few commits, mirrored in every region. */
  async function mirrored(path: RepositoryPath): Promise<void> {
    await bed.createRepository(path);
    const work = await bed.workingCopy(path);
    await commit(work, 2, path.replaceAll('/', '-'));
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    await bed.notifyPushes();
    await waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, timeoutMs: 60_000 });
  }

  it('GitLab project_create: an empty project becomes an empty, valid mirror', async () => {
    const path = parseRepositoryPath('team/created');
    await bed.createRepository(path);
    const sequence = await send(gitlabSystemHook('gitlab-system-project-create', (json) => void (json.path_with_namespace = path)));
    for (const region of regions) {
      const state = await stateIn(region, path, (candidate) => candidate.status === 'synced' && (candidate.syncedSequence ?? 0) >= sequence);
      expect(state.refCount).toBe(0);
      expect(await cloneMirror(bed.runtime.mirrors(region), path, bed.root)).toEqual(new Map());
    }
  });

  it('GitLab project_destroy: once the primary confirms it is gone, the mirror is tombstoned and the registry says deleted', async () => {
    const path = parseRepositoryPath('team/doomed');
    await mirrored(path);
    const before = await listRefs(`${bed.primary.url}/${path}.git`);
    await rm(bare(path), { recursive: true, force: true });
    const sequence = await send(gitlabSystemHook('gitlab-system-project-destroy', (json) => void (json.path_with_namespace = path)));
    for (const region of regions) {
      const state = await stateIn(region, path, (candidate) => candidate.status === 'deleted');
      expect(state).toMatchObject({ deletedSequence: sequence, attempts: 0 });
      expect(state.tombstone).toMatch(new RegExp(`^${TOMBSTONE_PREFIX.replaceAll('.', '\\.')}\\d{8}T\\d{6}Z/team/doomed\\.git/$`));
      expect(state.refs).toBeUndefined();
      expect(await keysUnder(region, mirrorPrefix(path))).toEqual([]);
      // The tombstone is the whole repository, still clonable: recoverable until it expires.
      expect(await clonePrefix(bed.runtime.mirrors(region), state.tombstone!, bed.root)).toEqual(before);
    }
  });

  it('a late event for a deleted repository (received before the deletion) does not bring it back', async () => {
    const path = parseRepositoryPath('team/doomed');
    const [push] = await recordedEvents(bed.runtime, path);
    expect(push?.kind).toBe('push');
    const fetches = fetchesOf(bed.primary.requests, path).length;
    for (const region of regions) await sendToRegion(bed.runtime, region, push!);
    // Give the late event time to be processed, then check nothing came back.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const region of regions) {
      expect((await bed.runtime.registry(region).get(path))?.status).toBe('deleted');
      expect(await keysUnder(region, mirrorPrefix(path))).toEqual([]);
    }
    expect(fetchesOf(bed.primary.requests, path)).toHaveLength(fetches);
  });

  it('a deletion the primary does not confirm (the repository is still there) deletes nothing', async () => {
    const path = parseRepositoryPath('team/survivor');
    await mirrored(path);
    const sequence = await send(gitlabSystemHook('gitlab-system-project-destroy', (json) => void (json.path_with_namespace = path)));
    for (const region of regions) {
      const state = await stateIn(region, path, (candidate) => (candidate.syncedSequence ?? 0) >= sequence || candidate.status === 'deleted');
      expect(state.status).toBe('synced');
    }
    await expectMirrorsMatchPrimary(regions.map((region) => bed.runtime.mirrors(region)), path, bed.primary.url, bed.root);
  });

  it('GitLab project_rename: the mirror moves server-side, the primary serves no upload-pack for it, the old path is gone', async () => {
    const from = parseRepositoryPath('team/overscore');
    const to = parseRepositoryPath('team/underscore');
    await mirrored(from);
    const before = new Map(await Promise.all(regions.map(async (region) => [region, await mirrorContents(bed.runtime.mirrors(region), mirrorPrefix(from))] as const)));
    const uploadPacks = fetchesOf(bed.primary.requests, from).length;
    await rename(bare(from), bare(to));
    bed.primary.redirects.set(from, to); // GitLab redirects the old path
    const sequence = await send(
      gitlabSystemHook('gitlab-system-project-rename', (json) => {
        json.path_with_namespace = to;
        json.old_path_with_namespace = from;
      }),
    );
    await waitForConvergence({ runtime: bed.runtime, repository: to, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
    for (const region of regions) {
      const old = await stateIn(region, from, (candidate) => candidate.status === 'deleted');
      expect(old.movedTo).toBe(to);
      expect(await keysUnder(region, mirrorPrefix(from))).toEqual([]);
      // Every object of the old mirror is under the new path, byte for byte.
      const moved = await mirrorContents(bed.runtime.mirrors(region), mirrorPrefix(to));
      expect(new Map([...moved].map(([key, content]) => [key.replace(mirrorPrefix(to), mirrorPrefix(from)), content]))).toEqual(before.get(region));
    }
    await expectMirrorsMatchPrimary(regions.map((region) => bed.runtime.mirrors(region)), to, bed.primary.url, bed.root);
    expect(fetchesOf(bed.primary.requests, to)).toHaveLength(0);
    expect(fetchesOf(bed.primary.requests, from)).toHaveLength(uploadPacks);
  });

  it('a push to the old path just before a rename: whichever event is processed first, the new path ends with the push', async () => {
    const from = parseRepositoryPath('team/racer');
    const to = parseRepositoryPath('team/renamed-racer');
    await mirrored(from);
    const work = await bed.workingCopy(from);
    const last = await commit(work, 1, 'before-rename');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    await rename(bare(from), bare(to));
    bed.primary.redirects.set(from, to);
    // Both events at once: the push's (group team/racer) and the rename's (group team/renamed-racer) run in parallel.
    const [pushStatuses, sequence] = await Promise.all([
      bed.notifyPushes(),
      send(
        gitlabSystemHook('gitlab-system-project-transfer', (json) => {
          json.path_with_namespace = to;
          json.old_path_with_namespace = from;
        }),
      ),
    ]);
    expect(pushStatuses).toEqual([202]);
    const states = await waitForConvergence({ runtime: bed.runtime, repository: to, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
    for (const region of regions) {
      expect(states.get(region)?.refs?.['refs/heads/main']).toBe(last);
      await stateIn(region, from, (candidate) => candidate.status === 'deleted' && candidate.movedTo === to);
    }
    // Let the push event for the old path finish, whenever it runs: it must not bring the old path back.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    for (const region of regions) {
      expect(await keysUnder(region, mirrorPrefix(from))).toEqual([]);
      expect((await bed.runtime.registry(region).get(from))?.status).toBe('deleted');
    }
    await expectMirrorsMatchPrimary(regions.map((region) => bed.runtime.mirrors(region)), to, bed.primary.url, bed.root);
    // At most the pushed commit was fetched, once per region: the history was moved, not downloaded.
    expect(fetchesOf(bed.primary.requests, to).length + fetchesOf(bed.primary.requests, from).length - regions.length).toBeLessThanOrEqual(regions.length);
  });

  it('a push event for the old path processed before the rename event: recorded as moved, not dead-lettered, then the rename moves the mirror', async () => {
    const from = parseRepositoryPath('team/first-old');
    const to = parseRepositoryPath('team/first-new');
    await mirrored(from);
    const work = await bed.workingCopy(from);
    const last = await commit(work, 1, 'old-first');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    await rename(bare(from), bare(to));
    bed.primary.redirects.set(from, to);
    expect(await bed.notifyPushes()).toEqual([202]);
    for (const region of regions) {
      const state = await stateIn(region, from, (candidate) => candidate.status === 'failed');
      expect(state.lastError).toMatchObject({ code: 'ERR_REPOSITORY_MOVED', retryable: false });
      expect(state.nextAttemptAt).toBeUndefined();
    }
    const sequence = await send(
      gitlabSystemHook('gitlab-system-project-rename', (json) => {
        json.path_with_namespace = to;
        json.old_path_with_namespace = from;
      }),
    );
    const states = await waitForConvergence({ runtime: bed.runtime, repository: to, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
    for (const region of regions) {
      expect(states.get(region)?.refs?.['refs/heads/main']).toBe(last);
      expect(await bed.runtime.registry(region).get(from)).toMatchObject({ status: 'deleted', movedTo: to });
      expect(await keysUnder(region, mirrorPrefix(from))).toEqual([]);
      const { Attributes } = await bed.runtime.clients.region(region).sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: bed.runtime.regions[region]!.deadLetterQueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
      );
      expect(Attributes?.ApproximateNumberOfMessages).toBe('0');
    }
  });

  it('late and new events for the old path after a rename do not resurrect it', async () => {
    const from = parseRepositoryPath('team/overscore');
    const events = await recordedEvents(bed.runtime, from);
    for (const region of regions) for (const event of events) await sendToRegion(bed.runtime, region, event);
    // A new webhook for the old path, received after the rename: the primary redirects it to the new path.
    const hook = sample('gitlab-push');
    await deliver(
      bed.runtime.webhookUrl,
      signed(
        withHeaders(retargeted(hook, { host: 'example.com', repository: 'mike/diaspora' }, { baseUrl: bed.primary.url, repository: from }), {
          'idempotency-key': crypto.randomUUID(),
          'x-gitlab-instance': bed.primary.url,
        }),
        WEBHOOK_SECRET,
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 4000));
    for (const region of regions) {
      const state = await bed.runtime.registry(region).get(from);
      expect(state).toMatchObject({ status: 'deleted', movedTo: 'team/underscore' });
      expect(await keysUnder(region, mirrorPrefix(from))).toEqual([]);
    }
  });

  it('GitHub repository transferred to another owner (the old path answers 404): the mirror moves', async () => {
    const from = parseRepositoryPath('alice/tool');
    const to = parseRepositoryPath('acme/tool');
    await mirrored(from);
    await mkdir(dirname(bare(to)), { recursive: true });
    await rename(bare(from), bare(to));
    const sequence = await send(githubRepositoryEvent(to, (json) => void ((json.action = 'transferred'), (json.changes = { owner: { from: { user: { login: 'alice' } } } }))));
    await waitForConvergence({ runtime: bed.runtime, repository: to, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
    for (const region of regions) expect((await stateIn(region, from, (state) => state.status === 'deleted')).movedTo).toBe(to);
    await expectMirrorsMatchPrimary(regions.map((region) => bed.runtime.mirrors(region)), to, bed.primary.url, bed.root);
    expect(fetchesOf(bed.primary.requests, to)).toHaveLength(0);
  });

  it('GitHub repository renamed, then deleted', async () => {
    const from = parseRepositoryPath('acme/old-name');
    const to = parseRepositoryPath('acme/new-name');
    await mirrored(from);
    await rename(bare(from), bare(to));
    await send(githubRepositoryEvent(to, (json) => void (json.changes.repository.name.from = 'old-name')));
    for (const region of regions) await stateIn(region, from, (state) => state.status === 'deleted');
    await rm(bare(to), { recursive: true, force: true });
    await send(githubRepositoryEvent(to, (json) => void ((json.action = 'deleted'), delete json.changes)));
    for (const region of regions) {
      await stateIn(region, to, (state) => state.status === 'deleted');
      expect(await keysUnder(region, mirrorPrefix(to))).toEqual([]);
    }
  });

  it('Gitea repository created and deleted', async () => {
    const path = parseRepositoryPath('gitea/webhooks');
    await bed.createRepository(path);
    const event = (action: string): Delivery => {
      const push = retargeted(sample('gitea-push'), { host: 'localhost:3000', repository: 'gitea/webhooks' }, { baseUrl: bed.primary.url, repository: path });
      const json = JSON.parse(push.body.toString()) as JsonObject;
      return signed(
        { headers: { ...push.headers, 'x-gitea-event': 'repository', 'x-gitea-delivery': crypto.randomUUID() }, body: Buffer.from(JSON.stringify({ action, repository: json.repository, sender: json.sender })) },
        WEBHOOK_SECRET,
      );
    };
    await send(event('created'));
    for (const region of regions) await stateIn(region, path, (state) => state.status === 'synced');
    await rm(bare(path), { recursive: true, force: true });
    await send(event('deleted'));
    for (const region of regions) await stateIn(region, path, (state) => state.status === 'deleted');
  });
});
