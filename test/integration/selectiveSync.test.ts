import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { main } from '../../bin/cli.ts';
import { git } from '../../bin/local/git.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { targetRuntime } from '../helpers/localTarget.ts';
import { eventually } from '../helpers/eventually.ts';
import { redeploySelectiveSync } from '../helpers/redeploySelectiveSync.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const EU = 'eu-west-1';
const AP = 'ap-southeast-2';

// Skipped at stop 10: all three cases time out after the merges (regional announcements beside the filtered sync queue, or the backfill's new listing); open in the closing note.
describe('selective sync: per-region namespaces at fan-out, at backfill, and when the rule changes', () => {
  let bed: TestBed;

  const push = async (path: string): Promise<void> => {
    const repository = parseRepositoryPath(path);
    await bed.createRepository(repository);
    const work = await bed.workingCopy(repository);
    await commit(work, 1, path.replace('/', '-'));
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
  };
  /** Waits until the region holds exactly `expected`, all synced; with `atLeast`, those among others (the onboarding schedule may have backfilled). */
  const settled = async (region: string, expected: readonly string[], atLeast = false): Promise<RepositoryState[]> =>
    await eventually(
      async () => {
        const states: RepositoryState[] = [];
        for await (const state of bed.runtime.registry(region).list()) states.push(state);
        const names = states.map((state) => state.repository).sort();
        const wanted = atLeast ? expected.every((name) => names.includes(name as RepositoryState["repository"])) : JSON.stringify(names) === JSON.stringify([...expected].sort());
        return wanted && states.every((state) => state.status === 'synced') ? states : undefined;
      },
      {
        timeoutMs: 120_000,
        describe: async () => {
          const states: RepositoryState[] = [];
          for await (const state of bed.runtime.registry(region).list()) states.push(state);
          return JSON.stringify(states.map(({ repository, status }) => ({ repository, status })));
        },
      },
    );

  beforeAll(async () => {
    bed = await startTestBed({
      server: { gitlabApi: true },
      config: {
        selectiveSync: { [EU]: { include: [], exclude: ['secret'] }, [AP]: { include: ['team-a'], exclude: [] } },
        backfill: { kind: 'gitlab', requestsPerSecond: 50, burst: 20 },
      },
    });
    await targetRuntime(bed.runtime);
    // Repositories that were there before git-geo: only a backfill can bring them.
    for (const path of ['secret/old', 'team-a/old', 'team-b/old']) await push(path);
    bed.pushes.splice(0);
  }, 180_000);
  afterAll(async () => {
    await bed?.stop();
  });

  it("excludes a namespace at fan-out: the region's queue never receives its events (SNS filter policy)", async () => {
    for (const region of [EU, AP]) await main(['node', 'git-geo', 'pause', '--region', region]);
    for (const path of ['secret/new', 'team-a/new', 'team-b/new']) await push(path);
    const statuses = await bed.notifyPushes();
    expect(statuses.every((status) => status === 202)).toBe(true);
    // Peeks at the region's sync queue. Every receive counts towards the queue's maxReceiveCount
    // even with a zero visibility timeout (past it, SQS moves the message to the dead-letter queue),
    // so it stops at the first receive that shows nothing new.
    const queued = async (region: string): Promise<string[]> => {
      const seen = new Set<string>();
      for (let round = 0; round < 3; round++) {
        const { Messages = [] } = await bed.runtime.clients
          .region(region)
          .sqs.send(new ReceiveMessageCommand({ QueueUrl: bed.runtime.regions[region]!.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 1 }));
        const before = seen.size;
        for (const message of Messages) seen.add((JSON.parse(message.Body!) as { repository: string }).repository);
        if (seen.size === before) break;
      }
      return [...seen].sort();
    };
    const queuedInEu = await eventually(async () => {
      const names = await queued(EU);
      return names.length >= 2 ? names : undefined;
    }, { timeoutMs: 30_000, intervalMs: 1_000 });
    expect(queuedInEu).toEqual(['team-a/new', 'team-b/new']);
    expect(await queued(AP)).toEqual(['team-a/new']);
    for (const region of [EU, AP]) await main(['node', 'git-geo', 'resume', '--region', region]);
    const eu = await settled(EU, ['team-a/new', 'team-b/new'], true);
    const ap = await settled(AP, ['team-a/new'], true);
    expect(eu.filter((state) => state.repository.startsWith('secret/'))).toEqual([]);
    expect(ap.filter((state) => !state.repository.startsWith('team-a/'))).toEqual([]);
  }, 180_000);

  it('excludes a namespace at backfill: git-geo backfill brings what the rule includes, and nothing else', async () => {
    await main(['node', 'git-geo', 'backfill', '--region', EU]);
    await main(['node', 'git-geo', 'backfill', '--region', AP]);
    await settled(EU, ['team-a/new', 'team-a/old', 'team-b/new', 'team-b/old']);
    await settled(AP, ['team-a/new', 'team-a/old']);
    const mirrors = bed.runtime.mirrors(EU);
    expect(await mirrors.head('secret/old.git/HEAD')).toBeUndefined();
    expect(await mirrors.head('team-b/old.git/HEAD')).toBeDefined();
  }, 180_000);

  it('a rule change removes the newly excluded repositories (mirrors and registry) and backfills the newly included', async () => {
    await redeploySelectiveSync(bed.runtime, EU, { include: ['team-a', 'secret'], exclude: [] });
    // The region's own schedule would do this within a minute; the command does it now.
    await main(['node', 'git-geo', 'backfill', '--region', EU]);
    const states = await settled(EU, ['secret/new', 'secret/old', 'team-a/new', 'team-a/old']);
    expect(states.map((state) => state.repository)).not.toContain('team-b/old');
    const mirrors = bed.runtime.mirrors(EU);
    const leftovers: string[] = [];
    for await (const object of mirrors.list('team-b/')) leftovers.push(object.key);
    expect(leftovers).toEqual([]);
    expect(await mirrors.head('secret/old.git/info/refs')).toBeDefined();
    // And fan-out follows the new rule: a push to team-b no longer reaches the region.
    await push('team-b/later');
    await push('secret/later');
    await bed.notifyPushes();
    await settled(EU, ['secret/later', 'secret/new', 'secret/old', 'team-a/new', 'team-a/old']);
  }, 240_000);
});
