import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectConfig } from '../bin/commands/projectConfig.ts';
import { git } from '../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../bin/local/gitlabPushHook.ts';
import type { RefUpdate } from '../bin/local/startGitServer.ts';
import { startLocalRuntime, type LocalRuntime } from '../bin/local/startLocalRuntime.ts';
import { startMoto, type MotoServer } from '../bin/local/startMoto.ts';
import { withHooks } from '../lambdas/shared/aws/HandlerHooks.ts';
import { PrimaryRemote } from '../lambdas/shared/git/PrimaryRemote.ts';
import { filterRefs, refsChecksum } from '../lambdas/shared/git/RefSnapshot.ts';
import type { RepositoryPath } from '../lambdas/shared/repositoryPath.ts';
import type { RepositoryState } from '../lambdas/shared/registry/RepositoryState.ts';
import { PrimaryProcess } from './PrimaryProcess.ts';
import { functionScope, RequestCounter } from './RequestCounter.ts';

const SECRET = 'bench-webhook-secret';

export interface BenchBedOptions {
  readonly regions: readonly string[];
  /** An AWS endpoint to run against; undefined starts an embedded moto. */
  readonly awsEndpoint: string | undefined;
  readonly onError: (error: unknown) => void;
}

/**
 * What every benchmark runs on: a primary `git http-backend` server (in a process of its own), git-geo's local
 * runtime (every Lambda in-process behind its real event source) on an AWS endpoint,
 * and a request counter on every AWS client the functions create.
 */
export class BenchBed {
  private constructor(
    readonly scratch: string,
    readonly primary: PrimaryProcess,
    readonly runtime: LocalRuntime,
    readonly counter: RequestCounter,
    readonly awsEndpoint: string,
    private readonly moto: MotoServer | undefined,
  ) {}

  static async start(options: BenchBedOptions): Promise<BenchBed> {
    const scratch = await mkdtemp(join(tmpdir(), 'git-geo-bench-'));
    await mkdir(join(scratch, 'primary'), { recursive: true });
    const primary = await PrimaryProcess.start(join(scratch, 'primary'));
    const counter = new RequestCounter();
    let moto: MotoServer | undefined;
    try {
      // Started here rather than by the runtime so child processes (initial sync) can reach it too.
      if (options.awsEndpoint === undefined) moto = await startMoto();
      const awsEndpoint = options.awsEndpoint ?? moto!.endpoint;
      const runtime = await startLocalRuntime({
        config: {
          ...projectConfig({ secondaryRegions: [...options.regions], primaryUrls: [primary.url], stackPrefix: 'GitGeoBench' }),
          primaryCredentialsSecretName: undefined,
        },
        webhookSecret: SECRET,
        awsEndpoint,
        onError: options.onError,
        clientPlugins: (fn) => [counter.plugin(functionScope(fn))],
      });
      // The runtime's own pollers (the stand-in for Lambda's event source mappings) are counted too.
      for (const region of new Set([runtime.primary.region, ...options.regions])) {
        withHooks(runtime.clients.region(region).sqs, { clientPlugins: [counter.plugin(`poller@${region}`)] });
      }
      return new BenchBed(scratch, primary, runtime, counter, awsEndpoint, moto);
    } catch (error) {
      await moto?.stop();
      await primary.stop();
      await rm(scratch, { recursive: true, force: true });
      throw error;
    }
  }

  get regions(): string[] {
    return Object.keys(this.runtime.regions);
  }

  repositoryUrl(repository: string): string {
    return `${this.primary.url}/${repository}.git`;
  }

  primaryPath(repository: string): string {
    return join(this.scratch, 'primary', `${repository}.git`);
  }

  /** Sends the GitLab push webhook for one ref update; answers the event's sequence. */
  async notify(repository: string, update: RefUpdate): Promise<number> {
    const delivery = await this.deliver(repository, update);
    if (delivery.sequence === undefined) throw new Error(`webhook for ${repository} ${update.ref} answered ${delivery.status}: ${JSON.stringify(delivery.body)}`);
    return delivery.sequence;
  }

  /** Sends the GitLab push webhook for one ref update, as a host does: once; answers what came back and how long it took. */
  async deliver(repository: string, update: RefUpdate): Promise<{ status: number; ms: number; sequence?: number; body: Record<string, unknown> }> {
    const started = performance.now();
    const response = await sendWebhook(this.runtime.webhookUrl, gitlabPushHook({ primaryUrl: this.primary.url, repository, update, token: SECRET }));
    const ms = performance.now() - started;
    if (response.status !== 202) return { status: response.status, ms, body: response.body };
    const events = response.body.events as { sequence: number }[];
    return { status: response.status, ms, sequence: Math.max(...events.map((event) => event.sequence)), body: response.body };
  }

  /** The checksum a region's registry records once it holds exactly the primary's current refs. */
  async expectedChecksum(repository: RepositoryPath): Promise<string> {
    const { snapshot } = await new PrimaryRemote({ baseUrl: this.primary.url }).discover(repository);
    return refsChecksum(filterRefs(snapshot, this.runtime.config.refNamespaces));
  }

  /**
   * Waits until every region has synced `repository` up to `sequence` with the primary's
   * current refs; answers each region's state. Polls the registries (not timed: lag is
   * taken from the registry's own `lastSyncedAt`).
   */
  async waitForSync(repository: RepositoryPath, sequence: number, timeoutMs: number, pollMs = 100): Promise<Map<string, RepositoryState>> {
    const expected = await this.expectedChecksum(repository);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.regions.map(async (region) => [region, await this.runtime.registry(region).get(repository)] as const));
      const done = states.every(([, state]) => state !== undefined && state.status === 'synced' && (state.syncedSequence ?? 0) >= sequence && state.refsChecksum === expected);
      if (done) return new Map(states as [string, RepositoryState][]);
      if (Date.now() > deadline) {
        throw new Error(`${repository} did not reach sequence ${sequence} in every region within ${timeoutMs} ms: ${JSON.stringify(states.map(([region, state]) => [region, state?.status, state?.syncedSequence, state?.lastError]))}`);
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }

  /** Creates an empty bare repository on the primary. */
  async createRepository(repository: string): Promise<string> {
    const path = this.primaryPath(repository);
    await git(['init', '--bare', '-q', '-b', 'main', path]);
    return path;
  }

  /** CPU seconds the embedded emulator has used so far (it is one Python process: often the bottleneck here). */
  async emulatorCpuSeconds(): Promise<number | undefined> {
    if (this.moto === undefined) return undefined;
    try {
      const stat = (await readFile(`/proc/${this.moto.pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
      return (Number(stat[11]) + Number(stat[12])) / 100;
    } catch {
      return undefined;
    }
  }

  async stop(): Promise<void> {
    await this.runtime.stop();
    await this.moto?.stop();
    await this.primary.stop();
    await rm(this.scratch, { recursive: true, force: true });
  }
}
