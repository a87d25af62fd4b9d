import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../cdk/projectRoot.ts';
import { git, listRefs } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { startGitServer, type GitServer, type RefUpdate } from '../../bin/local/startGitServer.ts';
import { resolveTarget, type Target } from '../../bin/ops/target.ts';
import { clientConfig } from '../../lambdas/shared/aws/clientConfig.ts';
import { PrimaryOverrideStore } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { eventually } from '../helpers/eventually.ts';
import { commit, WEBHOOK_SECRET } from '../helpers/testRuntime.ts';

const EU = 'eu-west-1';
const AP = 'ap-southeast-2';
const CLI = join(PROJECT_ROOT, 'bin', 'git-geo');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Every operator command through the CLI binary, against `git-geo local` started through the
 * CLI as its own process, as a new user runs them: `git-geo local` writes its descriptor, and
 * each command (a child process with no AWS settings at all) finds the deployment through it
 * (GIT_GEO_TARGET). Each command's effect is checked in the deployment itself.
 */
describe('the operator commands through the CLI, against git-geo local', () => {
  let root: string;
  let primary: GitServer;
  let newHost: GitServer;
  let local: ChildProcessWithoutNullStreams;
  let localLog = '';
  let descriptorFile: string;
  let target: Target;
  /** git-geo local's ready line. */
  let ready: Record<string, unknown> = {};
  const pushes: { repository: string; updates: readonly RefUpdate[] }[] = [];

  /** A fresh shell's environment: no AWS settings; only where the descriptor is. */
  const shell = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: root, GIT_GEO_TARGET: descriptorFile, ...extra });

  function cli(args: readonly string[], env: NodeJS.ProcessEnv = shell()): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], { cwd: root, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** Runs a command that must succeed; answers its last stdout line as JSON. */
  async function json<T = Record<string, unknown>>(...args: string[]): Promise<T> {
    const run = await cli(args);
    if (run.code !== 0) throw new Error(`git-geo ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
    return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as T;
  }

  async function notify(repository: string, update: RefUpdate, primaryUrl = primary.url): Promise<void> {
    const answer = await sendWebhook(String(ready.webhookUrl), gitlabPushHook({ primaryUrl, repository, update, token: WEBHOOK_SECRET }));
    expect(answer.status).toBe(202);
  }

  /** Commits and pushes to the primary, and sends the push's webhook; answers the new head. */
  async function pushAndNotify(work: string, label: string): Promise<string> {
    const head = await commit(work, 1, label);
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    const push = pushes.at(-1)!;
    for (const update of push.updates) await notify(push.repository, update);
    return head;
  }


  const registries = new Map<string, Registry>();
  /**
   * The head of main in a region's own copy (undefined: it holds none), from its registry. Not
   * through its Git URL: a region redirects a read it is behind on to the primary.
   */
  async function regionHead(region: string, repository: string): Promise<string | undefined> {
    let registry = registries.get(region);
    if (registry === undefined) {
      const { registryTable, awsEndpoint } = await target.region(region);
      registry = new Registry(DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(region, awsEndpoint))), registryTable);
      registries.set(region, registry);
    }
    return (await registry.get(parseRepositoryPath(repository)))?.refs?.['refs/heads/main'];
  }

  const waitForHead = (region: string, repository: string, head: string): Promise<true> =>
    eventually(async () => ((await regionHead(region, repository)) === head ? true : undefined), { timeoutMs: 90_000, describe: async () => `${region} serves ${await regionHead(region, repository)}` });

  async function deadLetters(region: string): Promise<number> {
    const { deadLetterQueueUrl, awsEndpoint } = await target.region(region);
    const sqs = new SQSClient(clientConfig(region, awsEndpoint));
    try {
      const { Attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      return Number(Attributes.ApproximateNumberOfMessages ?? 0) + Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0);
    } finally {
      sqs.destroy();
    }
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'git-geo-operator-cli-'));
    descriptorFile = join(root, 'state', 'local.json');
    primary = await startGitServer({ root: join(root, 'primary'), onPush: (repository, updates) => void pushes.push({ repository, updates }) });
    newHost = await startGitServer({ root: join(root, 'new-host'), autoCreate: true });
    // `git-geo local` as a user starts it. On the shared emulator (which saves starting a moto of its
    // own) with the webhook secret every test runtime there writes to the same secret name.
    local = spawn(process.execPath, [CLI, 'local', '--primary-url', primary.url, '--webhook-secret', WEBHOOK_SECRET, '--regions', `${EU},${AP}`], {
      cwd: root,
      env: shell({ AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL! }),
    });
    local.stderr.on('data', (chunk: Buffer) => (localLog += chunk.toString()));
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      local.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      local.on('exit', (code) => reject(new Error(`git-geo local exited ${code} before it was ready: ${localLog}`)));
    });
    ready = JSON.parse(line) as Record<string, unknown>;
    expect(ready.target).toBe(descriptorFile);
    process.env.GIT_GEO_TARGET = descriptorFile;
    target = resolveTarget();
  }, 240_000);

  afterAll(async () => {
    if (local && local.exitCode === null) {
      const exited = new Promise((resolve) => local.once('exit', resolve));
      local.kill('SIGTERM');
      await exited;
    }
    await primary?.stop();
    await newHost?.stop();
    if (root) await rm(root, { recursive: true, force: true });
  }, 60_000);

  const app = 'ops/app';
  let work: string;
  let head: string;

  it('status: every region of the runtime, running; the descriptor names the runtime it came from', async () => {
    const status = await cli(['status']);
    expect(status.code).toBe(0);
    for (const region of [EU, AP]) expect(status.stdout).toMatch(new RegExp(`${region}.*running`));
    const statuses = await json<{ region: string; control: { paused: boolean } }[]>('status', '--json');
    expect(statuses.map((region) => region.region).sort()).toEqual([AP, EU]);
    expect(target.kind).toBe('local');
  });

  it('pause holds a region: a push reaches the other region, not the paused one; resume lets it through', async () => {
    await git(['init', '--bare', '-q', '-b', 'main', join(root, 'primary', `${app}.git`)]);
    work = join(root, 'work');
    await git(['clone', '-q', `${primary.url}/${app}.git`, work]);
    const first = await pushAndNotify(work, 'first');
    await Promise.all([waitForHead(EU, app, first), waitForHead(AP, app, first)]);

    expect(await json('pause', '--region', EU)).toMatchObject({ region: EU, paused: true });
    expect((await cli(['status', '--region', EU])).stdout).toMatch(/PAUSED since/);
    head = await pushAndNotify(work, 'while-paused');
    await waitForHead(AP, app, head);
    // The event is in EU's queue, waiting: give it the time a sync takes, then look.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect(await regionHead(EU, app)).toBe(first);
    // rpo sees what the paused region lacks, exactly, and exits 3.
    const rpo = await cli(['rpo', '--region', EU]);
    expect(rpo.code).toBe(3);
    expect(rpo.stdout).toContain(`behind    refs/heads/main region ${first.slice(0, 12)}, primary ${head.slice(0, 12)}`);

    expect(await json('resume', '--region', EU)).toMatchObject({ region: EU, paused: false });
    await waitForHead(EU, app, head);
    expect(await json('rpo', '--region', EU, '--json')).toMatchObject({ region: EU, atRisk: 0 });
  }, 240_000);

  it('verify checks a region deeply and the registry records it', async () => {
    const verified = await cli(['verify', '--region', EU, app, '--json']);
    expect(verified.code).toBe(0);
    const result = JSON.parse(verified.stdout.trim()) as { region: string; outcomes: Record<string, { kind: string }> };
    expect(result.outcomes[app]).toMatchObject({ kind: 'verified' });
    const [status] = await json<{ verified: number }[]>('status', '--region', EU, '--json');
    expect(status!.verified).toBe(1);
  }, 120_000);

  it('backup takes a snapshot; restore recreates the repository from it with equal refs', async () => {
    const taken = await json<{ snapshotId: string; repositories: number }>('backup', '--region', EU);
    expect(taken.repositories).toBe(1);
    expect((await cli(['backup', 'list', '--region', EU])).stdout.split('\n')).toContain(taken.snapshotId);
    // A commit after the snapshot: the restore must bring the snapshot's state, not the mirror's.
    const later = await pushAndNotify(work, 'after-snapshot');
    await waitForHead(EU, app, later);

    const bundles = join(root, 'bundles');
    expect(await json('restore', '--region', EU, '--snapshot', taken.snapshotId, '--bundle', bundles, '--scratch', join(root, 'scratch'))).toMatchObject({ restored: 1, failed: 0 });
    const restored = join(root, 'restored');
    await git(['clone', '-q', '--bare', join(bundles, `${app}.bundle`), restored]);
    expect(Object.fromEntries(await listRefs(restored))).toMatchObject({ 'refs/heads/main': head });
    head = later;
  }, 180_000);

  it('redrive sends a dead-lettered event back to its queue, and the region then syncs it', async () => {
    const late = 'ops/late';
    // A webhook before the repository exists on the primary: the sync gets 404, a permanent failure, dead-lettered at once.
    await notify(late, { ref: 'refs/heads/main', before: '0'.repeat(40), after: head });
    await eventually(async () => ((await deadLetters(EU)) === 1 && (await deadLetters(AP)) === 1 ? true : undefined), {
      timeoutMs: 90_000,
      describe: async () => `dead letters: ${EU} ${await deadLetters(EU)}, ${AP} ${await deadLetters(AP)}`,
    });
    const listed = await cli(['redrive', '--region', EU, '--dry-run']);
    expect(JSON.parse(listed.stdout.trim())).toMatchObject({ region: EU, moved: 0, listed: 1 });
    expect(listed.stderr).toContain('would redrive ops/late');

    // The cause fixed: the repository now exists.
    await git(['init', '--bare', '-q', '-b', 'main', join(root, 'primary', `${late}.git`)]);
    await git(['push', '-q', `${primary.url}/${late}.git`, 'main'], { cwd: work });
    expect(await json('redrive', '--region', EU)).toMatchObject({ region: EU, moved: 1 });
    await waitForHead(EU, late, head);
    expect(await deadLetters(EU)).toBe(0);
    // Only the region redriven: the other still holds its dead letter, and no copy.
    expect(await deadLetters(AP)).toBe(1);
    expect(await regionHead(AP, late)).toBeUndefined();
  }, 180_000);

  it('promote pushes a region onto a new host and switches where the regions read the primary from', async () => {
    const promoted = await json<{ promoted: boolean; primary: string }>('promote', '--region', EU, '--to', newHost.url, '--scratch', join(root, 'scratch'));
    expect(promoted).toMatchObject({ promoted: true, primary: newHost.url });
    expect((await listRefs(`${newHost.url}/${app}.git`)).get('refs/heads/main')).toBe(head);
    // Each region's own copy of the override names the new host.
    for (const region of [EU, AP]) {
      const { registryTable, awsEndpoint } = await target.region(region);
      const db = DynamoDBDocumentClient.from(new DynamoDBClient(clientConfig(region, awsEndpoint)));
      expect((await PrimaryOverrideStore.regional(db, registryTable, 0).current())?.url).toBe(newHost.url);
      db.destroy();
    }
    // A push to the new host only: the regions fetch it from there.
    const moved = join(root, 'work-new-host');
    await git(['clone', '-q', `${newHost.url}/${app}.git`, moved]);
    const after = await commit(moved, 1, 'on-new-host');
    const before = (await listRefs(`${newHost.url}/${app}.git`)).get('refs/heads/main')!;
    await git(['push', '-q', 'origin', 'main'], { cwd: moved });
    await notify(app, { ref: 'refs/heads/main', before, after }, newHost.url);
    await Promise.all([waitForHead(EU, app, after), waitForHead(AP, app, after)]);
    // And a region serves it from its own copy.
    const regionUrl = `${(ready.regions as Record<string, { gitUrl: string }>)[EU]!.gitUrl}/${app}.git`;
    expect((await listRefs(regionUrl)).get('refs/heads/main')).toBe(after);
  }, 240_000);

  it('bad input gets a clear error, by class, and changes nothing', async () => {
    const stale = join(root, 'stale.json');
    await writeFile(stale, JSON.stringify({ ...ready, pid: 2 ** 22 + 1, config: target.config, stacks: [], lambdaEndpoint: 'x', awsEndpoint: 'x' }));
    const cases: [string[], NodeJS.ProcessEnv, RegExp][] = [
      [['status'], shell({ GIT_GEO_TARGET: join(root, 'nowhere.json') }), /GIT_GEO_TARGET=.*nowhere\.json: no such file.*\(ERR_NO_TARGET\)/],
      [['status'], shell({ GIT_GEO_TARGET: stale }), /is no longer running.*\(ERR_NO_TARGET\)/],
      [['pause', '--region', 'sa-east-1'], shell(), /sa-east-1 is not a secondary region of git-geo local.*\(ERR_UNKNOWN_REGION\)/],
      [['rpo', '--region', 'sa-east-1'], shell(), /\(ERR_UNKNOWN_REGION\)/],
      [['failover-control-plane', '--to-region', AP], shell(), /ap-southeast-2 holds no control plane.*\(ERR_UNKNOWN_REGION\)/],
      [['verify', '--runtime', '{}'], shell(), /--runtime is no longer an option.*GIT_GEO_TARGET.*\(ERR_REMOVED_OPTION\)/],
      [['backup', '--region', EU, '--bucket', 'b'], shell(), /--bucket is no longer an option.*\(ERR_REMOVED_OPTION\)/],
      [['restore', '--region', EU, '--snapshot', 'latest'], shell(), /choose one of --in-place, --push <url>, --bundle <dir>/],
      [['restore', '--region', EU, '--snapshot', 'no-such-snapshot', '--in-place'], shell(), /no-such-snapshot/],
      [['promote', '--region', EU], shell(), /required option '--to <url>'/],
      [['local', '--primary-url', primary.url, '--webhook-secret', WEBHOOK_SECRET], shell(), /another git-geo local \(pid \d+\) is running/],
    ];
    const runs = await Promise.all(cases.map(([args, env]) => cli(args, env)));
    runs.forEach((run, index) => {
      expect({ args: cases[index]![0], code: run.code }).toEqual({ args: cases[index]![0], code: 1 });
      expect(run.stderr).toMatch(cases[index]![2]);
    });
    // Nothing changed: the runtime still runs, its descriptor in place, both regions running.
    expect(local.exitCode).toBeNull();
    const statuses = await json<{ region: string; control: { paused: boolean } }[]>('status', '--json');
    expect(statuses.map((region) => region.control.paused)).toEqual([false, false]);
  }, 180_000);
});
