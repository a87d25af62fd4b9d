import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { isPackFetch, startGitServer, type GitServer, type RefUpdate } from '../../bin/local/startGitServer.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { hostApi } from '../../bin/ops/HostApi.ts';
import { promoteRegion, type PromoteOptions } from '../../bin/ops/promoteRegion.ts';
import { remoteRefs } from '../../bin/ops/pushRepository.ts';
import { rpoReport } from '../../bin/ops/rpoReport.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { createCredentialsSecret, primaryControls } from '../helpers/drBed.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';

const ALL_NAMESPACES = ['refs/'];
const PROMOTER = { username: 'promoter', password: 'promoter-secret' };

describe('disaster recovery: promote a region onto a fresh host, fail back, RPO reports', () => {
  let bed: TestBed;
  let fresh: GitServer;
  let secretName: string;
  const app = parseRepositoryPath('dr/app');
  const lib = parseRepositoryPath('dr/lib');
  const freshPushes: { repository: string; updates: readonly RefUpdate[] }[] = [];
  let primaryRefsAtKill: Map<string, Map<string, string>>;
  let promoteBytes = 0;

  const controls = () => primaryControls(bed.runtime);
  const promote = (overrides: Partial<PromoteOptions> & Pick<PromoteOptions, 'to' | 'previousUrl' | 'host'>) =>
    promoteRegion({
      region: 'eu-west-1',
      store: bed.runtime.mirrors('eu-west-1'),
      registry: bed.runtime.registry('eu-west-1'),
      ...controls(),
      refNamespaces: bed.runtime.config.refNamespaces,
      operator: 'test-operator',
      planned: false,
      scratch: join(bed.root, 'scratch'),
      ...overrides,
    });
  const converge = (primaryUrl: string, regions?: string[]) =>
    Promise.all([app, lib].map((repository) => waitForConvergence({ runtime: bed.runtime, repository, primaryUrl, timeoutMs: 90_000, ...(regions ? { regions } : {}) })));
  /** Pauses or resumes a region's sync, as `git-geo pause` does: its events wait on its queue. */
  const setRegionEnabled = async (region: string, enabled: boolean): Promise<void> => {
    expect(await bed.runtime.eventSourceMappings.setEnabledWhere((source) => source.region === region, enabled)).toBeGreaterThan(0);
  };

  beforeAll(async () => {
    // The promoted host is read with the promotion secret: the one the configuration names, which sync's role may read.
    bed = await startTestBed({ config: { primaryOverrideCacheSeconds: 1, promotionCredentialsSecretName: `git-geo/promotion-${randomBytes(4).toString('hex')}` } });
    fresh = await startGitServer({ root: join(bed.root, 'fresh'), autoCreate: true, users: { [PROMOTER.username]: PROMOTER.password }, onPush: (repository, updates) => void freshPushes.push({ repository, updates }) });
    secretName = await createCredentialsSecret(bed.runtime, PROMOTER, bed.runtime.config.promotionCredentialsSecretName);
    for (const repository of [app, lib]) await bed.createRepository(repository);
    const work = await bed.workingCopy(app);
    await commit(work, 3, 'app');
    await git(['tag', '-a', 'v1', '-m', 'v1'], { cwd: work });
    await git(['checkout', '-q', '-b', 'feature/ui'], { cwd: work });
    await commit(work, 1, 'ui');
    await git(['push', '-q', 'origin', 'main', 'feature/ui', '--tags'], { cwd: work });
    const libWork = await bed.workingCopy(lib);
    await commit(libWork, 2, 'lib');
    await git(['push', '-q', 'origin', 'main'], { cwd: libWork });
    await bed.notifyPushes();
    await converge(bed.primary.url);
  }, 180_000);
  afterAll(async () => {
    await fresh?.stop();
    await bed?.stop();
  });

  it('the RPO report names exactly the refs a lagging region lacks, and a current region has none at risk', async () => {
    await setRegionEnabled('ap-southeast-2', false);
    const work = await bed.workingCopy(app);
    const before = (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const after = await commit(work, 1, 'lagging');
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    const libWork = await bed.workingCopy(lib);
    await git(['checkout', '-q', '-b', 'feature/x'], { cwd: libWork });
    const branch = await commit(libWork, 1, 'x');
    await git(['push', '-q', 'origin', 'feature/x'], { cwd: libWork });
    await bed.notifyPushes();
    await converge(bed.primary.url, ['eu-west-1']);

    const { eventLog } = controls();
    const report = (region: string) => rpoReport({ region, eventLog, store: bed.runtime.mirrors(region), registry: bed.runtime.registry(region), refNamespaces: bed.runtime.config.refNamespaces, repositories: [app, lib] });
    const lagging = await report('ap-southeast-2');
    expect(lagging.atRisk).toBe(2);
    expect(lagging.refsAtRisk).toBe(2);
    expect(lagging.repositories).toEqual([
      { repository: app, current: false, noMirror: false, missing: [], different: [{ ref: 'refs/heads/main', region: before, primary: after }], extra: [] },
      { repository: lib, current: false, noMirror: false, missing: [{ ref: 'refs/heads/feature/x', primary: branch }], different: [], extra: [] },
    ]);
    const current = await report('eu-west-1');
    expect(current.atRisk).toBe(0);
    expect(current.repositories.map((entry) => entry.current)).toEqual([true, true]);
    primaryRefsAtKill = new Map(await Promise.all([app, lib].map(async (repository) => [repository, await listRefs(`${bed.primary.url}/${repository}.git`)] as const)));
  }, 120_000);

  it('promotion onto a fresh host gives every repository identical refs, switches the pipeline, and the lagging region fetches only what it lacked', async () => {
    await bed.primary.pause(); // the primary is gone
    const credentials = PROMOTER;
    const result = await promote({ to: fresh.url, previousUrl: bed.primary.url, host: hostApi('git-geo-local', fresh.url, credentials), credentials, credentialsSecretName: secretName });
    expect(result.failed).toEqual([]);
    expect(result.repositories.map((entry) => entry.repository)).toEqual([app, lib]);
    for (const repository of [app, lib]) {
      expect(await listRefs(`${fresh.url}/${repository}.git`)).toEqual(primaryRefsAtKill.get(repository));
    }
    const { overrides } = controls();
    expect(await overrides.current()).toMatchObject({ url: fresh.url, previousUrl: bed.primary.url, fromRegion: 'eu-west-1', promotedBy: 'test-operator', credentialsSecretName: secretName });
    expect((await overrides.history()).map((entry) => entry.url)).toEqual([fresh.url]);
    expect(result.eventsPublished).toBe(2);
    promoteBytes = fresh.requests.filter((request) => request.service === 'git-receive-pack' && request.method === 'POST').reduce((sum, request) => sum + request.requestBytes, 0);
    expect(promoteBytes).toBeGreaterThan(0);

    const servedBefore = fresh.requests.length;
    await setRegionEnabled('ap-southeast-2', true);
    const states = await converge(fresh.url);
    const [appStates, libStates] = states;
    // The promoted region already had everything: nothing fetched.
    expect(appStates!.get('eu-west-1')!.lastFetchBytes).toBe(0);
    expect(libStates!.get('eu-west-1')!.lastFetchBytes).toBe(0);
    // The lagging one fetched a one-commit pack for each, a small part of what a full copy costs.
    for (const state of [appStates!.get('ap-southeast-2')!, libStates!.get('ap-southeast-2')!]) {
      expect(state.lastFetchBytes).toBeGreaterThan(0);
      expect(state.lastFetchBytes).toBeLessThan(1500);
    }
    const fetched = fresh.requests.slice(servedBefore).filter((request) => isPackFetch(request));
    expect(fetched.reduce((sum, request) => sum + request.bytes, 0)).toBeLessThan(promoteBytes / 2);
    const after = await rpoReport({ region: 'ap-southeast-2', ...controls(), store: bed.runtime.mirrors('ap-southeast-2'), registry: bed.runtime.registry('ap-southeast-2'), refNamespaces: bed.runtime.config.refNamespaces, repositories: [app, lib] });
    expect(after.atRisk).toBe(0);
  }, 180_000);

  it('a push to the new primary replicates everywhere, and each region fetches only that push', async () => {
    const dir = join(bed.root, 'fresh-work');
    const authenticated = fresh.url.replace('http://', `http://${PROMOTER.username}:${PROMOTER.password}@`);
    await git(['clone', '-q', `${authenticated}/${app}.git`, dir]);
    const head = await commit(dir, 1, 'after-promotion');
    await git(['push', '-q', 'origin', 'main'], { cwd: dir });
    const push = freshPushes.at(-1)!;
    expect(push.repository).toBe(app);
    for (const update of push.updates) {
      const { status } = await sendWebhook(bed.runtime.webhookUrl, gitlabPushHook({ primaryUrl: fresh.url, repository: app, update, token: WEBHOOK_SECRET }));
      expect(status).toBe(202);
    }
    const states = await waitForConvergence({ runtime: bed.runtime, repository: app, primaryUrl: fresh.url, timeoutMs: 90_000 });
    for (const state of states.values()) {
      expect(state.refs?.['refs/heads/main']).toBe(head);
      expect(state.lastFetchBytes).toBeGreaterThan(0);
      expect(state.lastFetchBytes).toBeLessThan(1500);
    }
  }, 120_000);

  it('failback to the returning original primary pushes only the difference, and the regions fetch nothing', async () => {
    await bed.primary.start();
    const requestsBefore = bed.primary.requests.length;
    const result = await promote({ to: bed.primary.url, previousUrl: fresh.url, host: hostApi('git-geo-local', bed.primary.url, undefined) });
    expect(result.failed).toEqual([]);
    for (const repository of [app, lib]) {
      expect(await remoteRefs(`${bed.primary.url}/${repository}.git`, ALL_NAMESPACES)).toEqual(await remoteRefs(`${fresh.url}/${repository}.git`, ALL_NAMESPACES));
    }
    const pushed = bed.primary.requests.slice(requestsBefore).filter((request) => request.service === 'git-receive-pack' && request.method === 'POST');
    const pushedBytes = pushed.reduce((sum, request) => sum + request.requestBytes, 0);
    // One commit for app, nothing for lib (its push is refs only).
    expect(pushedBytes).toBeGreaterThan(0);
    expect(pushedBytes).toBeLessThan(promoteBytes / 2);
    expect((await controls().overrides.current())?.url).toBe(bed.primary.url);
    expect((await controls().overrides.history()).map((entry) => entry.url)).toEqual([fresh.url, bed.primary.url]);
    const minSequence = async (repository: string) => (await controls().eventLog.head(parseRepositoryPath(repository)))!.latestSequence;
    for (const repository of [app, lib]) {
      const states = await waitForConvergence({ runtime: bed.runtime, repository: parseRepositoryPath(repository), primaryUrl: bed.primary.url, minSequence: await minSequence(repository), timeoutMs: 90_000 });
      for (const state of states.values()) expect(state.lastFetchBytes).toBe(0);
    }
  }, 180_000);
});
