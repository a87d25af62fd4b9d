import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseGeoConfig, type GeoConfigInput } from '../../cdk/GeoConfig.ts';
import { git } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { startGitServer, type GitServer, type GitServerOptions, type RefUpdate } from '../../bin/local/startGitServer.ts';
import { startLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from '../../bin/local/startLocalRuntime.ts';

export const WEBHOOK_SECRET = 'test-webhook-secret';

export interface TestBed {
  readonly root: string;
  readonly primary: GitServer;
  readonly runtime: LocalRuntime;
  /** Every push the primary received, in order. */
  readonly pushes: { repository: string; updates: readonly RefUpdate[] }[];
  /** Errors the runtime reported from inside functions and pollers. */
  readonly errors: unknown[];
  createRepository(path: string): Promise<void>;
  /** Clones the repository into a fresh working copy. */
  workingCopy(path: string): Promise<string>;
  /** Sends the GitLab webhooks for every push not yet notified; answers their statuses. */
  notifyPushes(): Promise<number[]>;
  stop(): Promise<void>;
}

/**
 * A primary git server and a local runtime wired to it, in this test process.
 * The runtime uses the shared emulator (AWS_ENDPOINT_URL, started by the harness).
 */
export async function startTestBed(
  options: {
    config?: Partial<GeoConfigInput>;
    server?: Partial<GitServerOptions>;
    primaryCredentials?: { username: string; password: string };
    /** Another AWS endpoint than the shared emulator (a fault-injecting proxy in front of it, say). */
    awsEndpoint?: string;
    clientPlugins?: LocalRuntimeOptions['clientPlugins'];
    aspects?: LocalRuntimeOptions['aspects'];
  } = {},
): Promise<TestBed> {
  const root = await mkdtemp(join(tmpdir(), 'git-geo-test-'));
  const pushes: TestBed['pushes'] = [];
  let notified = 0;
  const primary = await startGitServer({
    root: join(root, 'primary'),
    onPush: (repository, updates) => void pushes.push({ repository, updates }),
    ...options.server,
  });
  const errors: unknown[] = [];
  const runtime = await startLocalRuntime({
    config: parseGeoConfig({
      stackPrefix: 'GitGeoTest',
      primaryRegion: 'us-east-1',
      secondaryRegions: ['eu-west-1', 'ap-southeast-2'],
      primaryUrls: [primary.url],
      webhookSecretName: 'git-geo/webhook-secret',
      syncTimeoutSeconds: 60,
      ...options.config,
    }),
    webhookSecret: WEBHOOK_SECRET,
    ...(options.awsEndpoint ? { awsEndpoint: options.awsEndpoint } : {}),
    ...(options.primaryCredentials ? { primaryCredentials: options.primaryCredentials } : {}),
    ...(options.clientPlugins ? { clientPlugins: options.clientPlugins } : {}),
    ...(options.aspects ? { aspects: options.aspects } : {}),
    onError: (error) => void errors.push(error),
  }).catch(async (error: unknown) => {
    await primary.stop();
    await rm(root, { recursive: true, force: true });
    throw error;
  });
  let copies = 0;
  return {
    root,
    primary,
    runtime,
    pushes,
    errors,
    async createRepository(path) {
      await git(['init', '--bare', '-q', '-b', 'main', join(root, 'primary', `${path}.git`)]);
    },
    async workingCopy(path) {
      const dir = join(root, `work-${copies++}`);
      await git(['clone', '-q', `${primary.url}/${path}.git`, dir]);
      return dir;
    },
    async notifyPushes() {
      const statuses: number[] = [];
      for (const push of pushes.slice(notified)) {
        for (const update of push.updates) {
          const request = gitlabPushHook({ primaryUrl: primary.url, repository: push.repository, update, token: WEBHOOK_SECRET });
          statuses.push((await sendWebhook(runtime.webhookUrl, request)).status);
        }
      }
      notified = pushes.length;
      return statuses;
    },
    async stop() {
      await runtime.stop();
      await primary.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Makes `count` commits in a working copy, each touching its own file. */
export async function commit(dir: string, count = 1, label = 'change'): Promise<string> {
  for (let i = 0; i < count; i++) {
    const name = `${label}-${Date.now()}-${i}.txt`;
    await import('node:fs/promises').then((fs) => fs.writeFile(join(dir, name), `${label} ${i}\n`));
    await git(['add', name], { cwd: dir });
    await git(['commit', '-q', '-m', `${label} ${i}`], { cwd: dir });
  }
  return (await git(['rev-parse', 'HEAD'], { cwd: dir })).trim();
}
