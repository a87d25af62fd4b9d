import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { join } from 'node:path';
import { generateRepository } from '../../bin/local/generateRepository.ts';
import { git } from '../../bin/local/git.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { BenchBed } from '../BenchBed.ts';
import { ratio } from '../stats.ts';
import { isPackFetch } from '../../bin/local/startGitServer.ts';

export interface FanOutOptions {
  readonly pushes: number;
  readonly repositories: number;
  /** Pushes in flight at once (each repository's pushes stay in order). */
  readonly concurrency: number;
  /** Repositories the native baseline mirrors (it fetches on every push, into one mirror per region). */
  readonly baselineRepositories: number;
  readonly timeoutMs: number;
  readonly log: (line: string) => void;
}

export interface FanOutResult {
  readonly pushes: number;
  readonly repositories: number;
  readonly regions: number;
  readonly pushSeconds: number;
  /** From the first push to every region holding every repository's final refs. */
  readonly totalSeconds: number;
  /** After the last push returned, until every region converged. */
  readonly drainSeconds: number;
  /** Pushes replicated to every region per second, first push to convergence. */
  readonly pushesPerSecond: number;
  readonly converged: boolean;
  readonly regionsConverged: number;
  /** Change events not reflected in some region, plus messages in dead-letter queues: must be 0. */
  readonly messagesLost: number;
  readonly deadLetters: number;
  /** Pack fetches (upload-pack) per push per region. */
  readonly fetchesPerPush: number;
  /** Ref discoveries (info/refs) per push per region. */
  readonly discoveriesPerPush: number;
  readonly baseline: { readonly repositories: number; readonly pushes: number; readonly pushesPerSecond: number; readonly fetchesPerPush: number };
  readonly throughputRatio: number | undefined;
  /** AWS requests per push, all functions and pollers together, by `scope service.operation`. */
  readonly requestsPerPush: Readonly<Record<string, number>>;
  /** CPU seconds the embedded emulator spent during the run (undefined against another endpoint). */
  readonly emulatorCpuSeconds: number | undefined;
  /** Every webhook's answer, as a host sees it (sent once, never retried): count by HTTP status, and answer times. */
  readonly webhooks: {
    readonly byStatus: Readonly<Record<string, number>>;
    /** Answers with a 5xx status: a host records the delivery as failed. Must be 0. */
    readonly serverErrors: number;
    readonly answerMs: { readonly p50: number; readonly p95: number; readonly max: number };
  };
  /** Mean time of one request, by `scope service.operation`, for notify's requests (what its answer waits on). */
  readonly notifyRequestMs: Readonly<Record<string, number>>;
}

/** Runs `tasks` with at most `limit` at once. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Fan-out at scale: pushes spread over many repositories, all replicated to every region.
 * Each repository takes its pushes in a burst (one after the other, each webhook sent as its
 * push lands, as a Git host's asynchronous webhooks are), and several repositories push at once. A push is a ref update on the primary's bare
 * repository (the objects are there already) followed by its webhook, so the figure is
 * git-geo's and not the primary's receive-pack. Convergence is checked in every region's registry
 * against the primary's final refs and against the last event sequence of each repository;
 * anything short of that, or anything in a dead-letter queue, counts as a lost message.
 */
export async function fanOut(bed: BenchBed, options: FanOutOptions): Promise<FanOutResult> {
  const perRepository = Math.max(1, Math.round(options.pushes / options.repositories));
  const seed = join(bed.scratch, 'fan-seed.git');
  await git(['init', '--bare', '-q', '-b', 'main', seed]);
  await generateRepository(seed, { commits: 20 + perRepository, files: 20 });
  const history = (await git(['rev-list', '--reverse', 'main'], { cwd: seed })).trim().split('\n');
  const base = history[19]!;
  const steps = history.slice(20);

  const makeRepositories = async (prefix: string, count: number): Promise<RepositoryPath[]> => {
    const repositories = Array.from({ length: count }, (_, index) => parseRepositoryPath(`${prefix}/repo-${String(index).padStart(4, '0')}`));
    await pool(repositories, 4, async (repository) => {
      const path = bed.primaryPath(repository);
      await git(['clone', '--bare', '-q', seed, path]);
      await git(['update-ref', 'refs/heads/main', base], { cwd: path });
    });
    return repositories;
  };

  // Native baseline: a mirror per region that runs `git fetch` on every push.
  const baselineRepositories = await makeRepositories('fan-native', Math.min(options.baselineRepositories, options.repositories));
  const mirrors = new Map<string, string[]>();
  for (const repository of baselineRepositories) {
    const dirs = bed.regions.map((region) => join(bed.scratch, 'fan-native-mirrors', region, `${repository}.git`));
    for (const dir of dirs) await git(['clone', '-q', '--mirror', bed.repositoryUrl(repository), dir]);
    mirrors.set(repository, dirs);
  }
  // A push lands on the primary as a ref update, made by the primary's process; its objects
  // are already there (each repository is a clone of the seed). This keeps the primary's own
  // cost (receive-pack) out of the figure, and off the event loop the functions run on.
  const push = (repository: string, step: string, before: string): Promise<void> => bed.primary.updateRef(repository, 'refs/heads/main', step, before);
  const baselineStarted = performance.now();
  await pool(baselineRepositories, options.concurrency, async (repository) => {
    let before = base;
    for (const step of steps) {
      await push(repository, step, before);
      before = step;
      await Promise.all(mirrors.get(repository)!.map((dir) => git(['fetch', '-q', 'origin'], { cwd: dir })));
    }
  });
  const baselinePushes = baselineRepositories.length * steps.length;
  const baselineRate = baselinePushes / ((performance.now() - baselineStarted) / 1000);
  options.log(`  fan-out: native baseline ${baselinePushes} pushes at ${baselineRate.toFixed(1)} pushes/s`);

  const repositories = await makeRepositories('fan', options.repositories);
  const latest = new Map<string, number>();
  await bed.primary.flush();
  const mark = bed.primary.requests.length;
  bed.counter.reset();
  const emulatorBefore = await bed.emulatorCpuSeconds();
  const started = performance.now();
  let done = 0;
  const answers: Awaited<ReturnType<BenchBed['deliver']>>[] = [];
  await pool(repositories, options.concurrency, async (repository) => {
    let before = base;
    const webhooks: Promise<Awaited<ReturnType<BenchBed['deliver']>>>[] = [];
    for (const step of steps) {
      await push(repository, step, before);
      // Delivered as a Git host delivers them: after the push lands, without holding up the next push, once.
      webhooks.push(bed.deliver(repository, { ref: 'refs/heads/main', before, after: step }));
      before = step;
      if (++done % 200 === 0) options.log(`  fan-out: ${done}/${repositories.length * steps.length} pushes`);
    }
    const delivered = await Promise.all(webhooks);
    answers.push(...delivered);
    for (const answer of delivered.filter((candidate) => candidate.status !== 202)) options.log(`  fan-out: webhook for ${repository} answered ${answer.status} after ${Math.round(answer.ms)} ms: ${JSON.stringify(answer.body)}`);
    // Convergence is judged on the primary's final refs; the sequence, when the answer gave one.
    latest.set(repository, Math.max(0, ...delivered.map((answer) => answer.sequence ?? 0)));
  });
  const pushed = performance.now();
  const pushes = repositories.length * steps.length;

  const expected = new Map<string, string>();
  await pool(repositories, 8, async (repository) => void expected.set(repository, await bed.expectedChecksum(repository)));
  const deadline = Date.now() + options.timeoutMs;
  let convergedRegions = 0;
  let behind = Number.POSITIVE_INFINITY;
  for (;;) {
    behind = 0;
    convergedRegions = 0;
    for (const region of bed.regions) {
      const states = new Map<string, { syncedSequence?: number; refsChecksum?: string }>();
      try {
        for await (const state of bed.runtime.registry(region).list()) states.set(state.repository, state);
      } catch (error) {
        // The benchmark's own look at the registry failed (an overloaded emulator answers 5xx): look again, the run goes on.
        options.log(`  fan-out: reading ${region}'s registry failed (${(error as Error).name}); looking again`);
      }
      let regionBehind = 0;
      for (const repository of repositories) {
        const state = states.get(repository);
        if (state === undefined || (state.syncedSequence ?? 0) < latest.get(repository)! || state.refsChecksum !== expected.get(repository)) regionBehind++;
      }
      if (regionBehind === 0) convergedRegions++;
      behind += regionBehind;
    }
    if (behind === 0 || Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const finished = performance.now();
  const emulatorAfter = await bed.emulatorCpuSeconds();
  const requestsPerPush: Record<string, number> = {};
  const notifyTime: Record<string, { requests: number; milliseconds: number }> = {};
  for (const [scope, services] of Object.entries(bed.counter.snapshot())) {
    for (const [service, operations] of Object.entries(services)) {
      for (const [operation, count] of Object.entries(operations)) {
        const key = `${scope.split('@')[0]} ${service}.${operation}`;
        requestsPerPush[key] = (requestsPerPush[key] ?? 0) + count.requests;
        if (scope.startsWith('notify@')) {
          const time = (notifyTime[key] ??= { requests: 0, milliseconds: 0 });
          time.requests += count.requests;
          time.milliseconds += count.milliseconds;
        }
      }
    }
  }
  const byStatus: Record<string, number> = {};
  for (const answer of answers) byStatus[answer.status] = (byStatus[answer.status] ?? 0) + 1;
  const answerMs = answers.map((answer) => answer.ms).sort((a, b) => a - b);
  const at = (fraction: number): number => Math.round(answerMs[Math.min(answerMs.length - 1, Math.floor(answerMs.length * fraction))] ?? 0);
  let deadLetters = 0;
  for (const [region, info] of Object.entries(bed.runtime.regions)) {
    const { Attributes } = await bed.runtime.clients.region(region).sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: info.deadLetterQueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
    );
    deadLetters += Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  }
  await bed.primary.flush();
  const requests = bed.primary.requests.slice(mark);
  const regions = bed.regions.length;
  const fetches = requests.filter((request) => isPackFetch(request)).length;
  const discoveries = requests.filter((request) => request.method === 'GET' && request.service === 'git-upload-pack').length;
  const totalSeconds = (finished - started) / 1000;
  const pushesPerSecond = pushes / totalSeconds;
  return {
    pushes,
    repositories: repositories.length,
    regions,
    pushSeconds: Math.round((pushed - started) / 10) / 100,
    totalSeconds: Math.round(totalSeconds * 100) / 100,
    drainSeconds: Math.round((finished - pushed) / 10) / 100,
    pushesPerSecond: Math.round(pushesPerSecond * 10) / 10,
    converged: behind === 0,
    regionsConverged: convergedRegions,
    messagesLost: behind + deadLetters,
    deadLetters,
    fetchesPerPush: Math.round((fetches / (pushes * regions)) * 1000) / 1000,
    discoveriesPerPush: Math.round((discoveries / (pushes * regions)) * 1000) / 1000,
    baseline: { repositories: baselineRepositories.length, pushes: baselinePushes, pushesPerSecond: Math.round(baselineRate * 10) / 10, fetchesPerPush: 1 },
    throughputRatio: ratio(pushesPerSecond, baselineRate),
    requestsPerPush: Object.fromEntries(Object.entries(requestsPerPush).sort(([, a], [, b]) => b - a).map(([key, total]) => [key, Math.round((total / pushes) * 100) / 100])),
    webhooks: { byStatus, serverErrors: answers.filter((answer) => answer.status >= 500).length, answerMs: { p50: at(0.5), p95: at(0.95), max: Math.round(answerMs.at(-1) ?? 0) } },
    notifyRequestMs: Object.fromEntries(Object.entries(notifyTime).map(([key, time]) => [key, Math.round(time.milliseconds / time.requests)])),
    emulatorCpuSeconds: emulatorBefore === undefined || emulatorAfter === undefined ? undefined : Math.round((emulatorAfter - emulatorBefore) * 10) / 10,
  };
}
