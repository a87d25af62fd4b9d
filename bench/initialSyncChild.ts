/**
 * One initial sync in a process of its own, so its peak RSS is its own (the benchmark's
 * process holds the runtime, the git server and every other benchmark). Prints one JSON
 * line: wall time of the sync itself, and the process's RSS before it and at its peak.
 *
 * The benchmark bundles it with esbuild first, as the deployed function is bundled.
 */
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { readFileSync, writeFileSync } from 'node:fs';
import type { Context, SQSEvent } from 'aws-lambda';
import { createSyncHandler } from '../lambdas/sync/createSyncHandler.ts';
import type { AnyClientPlugin } from '../lambdas/shared/aws/HandlerHooks.ts';

export type ChildRequest =
  | { readonly mode: 'isomorphic-git-clone'; readonly url: string; readonly dir: string }
  | { readonly mode: 'git-geo-sync'; readonly env: Record<string, string>; readonly repository: string };

/**
 * Peak RSS is measured over the sync alone: Linux resets a process's high-water mark when
 * `5` is written to /proc/self/clear_refs (loading the bundle peaks higher than a small sync
 * does). Elsewhere, the whole process's peak is all there is.
 */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function peakRss(reset: boolean): number {
  if (reset) {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  }
  return process.resourceUsage().maxRSS * 1024;
}

export interface ChildResult {
  readonly wallMs: number;
  /** User and system CPU time of the sync itself: unlike wall time, other load on the machine barely moves it. */
  readonly cpuMs: number;
  readonly rssBeforeBytes: number;
  /** Peak RSS during the sync (see resetPeakRss). */
  readonly peakRssBytes: number;
  /** Peak RSS of the whole process, loading included. */
  readonly processPeakRssBytes: number;
  readonly failures?: number;
  /** Where the sync's wall time went, from its S3 requests for the pack: before the first, during, after the last. */
  readonly phases?: SyncPhases;
}

export interface SyncPhases {
  /** From the start to the pack's first upload request: discovery, download, indexing (they overlap). */
  readonly downloadAndIndexMs: number;
  /** The pack's upload requests, first to last (PutObject, or the multipart upload's). */
  readonly uploadMs: number;
  /** After the upload: index, pack list, refs, registry. */
  readonly restMs: number;
}

/** Times the S3 requests on `.pack` keys of every client it is applied to. */
function packUploadTimer(): { plugin: AnyClientPlugin; firstMs?: number; lastMs?: number } {
  const timer: { plugin: AnyClientPlugin; firstMs?: number; lastMs?: number } = {
    plugin: {
      applyToStack: (stack) =>
        stack.add(
          (next) => async (args) => {
            const key = (args.input as { Key?: unknown }).Key;
            if (typeof key !== 'string' || !key.endsWith('.pack')) return next(args);
            timer.firstMs ??= performance.now();
            try {
              return await next(args);
            } finally {
              timer.lastMs = performance.now();
            }
          },
          { step: 'initialize', name: 'benchPackUploadTimer' },
        ),
    },
  };
  return timer;
}

function event(repository: string): SQSEvent {
  const now = new Date().toISOString();
  const change = { version: 1, kind: 'push', repository, changes: [], eventId: `bench:${randomUUID()}`, deliveryId: randomUUID(), source: 'git-geo', sequence: 1, receivedAt: now };
  return {
    Records: [
      {
        messageId: randomUUID(),
        receiptHandle: 'bench-initial-sync',
        body: JSON.stringify(change),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: String(Date.now()), SenderId: 'bench', ApproximateFirstReceiveTimestamp: String(Date.now()), MessageGroupId: repository },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench.fifo',
        awsRegion: 'us-east-1',
      },
    ],
  };
}

const context = { functionName: 'bench-initial-sync', awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 900_000 } as unknown as Context;

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

async function run(request: ChildRequest): Promise<ChildResult> {
  if (request.mode === 'isomorphic-git-clone') {
    const rssBeforeBytes = process.memoryUsage.rss();
    const processPeakRssBytes = process.resourceUsage().maxRSS * 1024;
    const reset = resetPeakRss();
    const cpu = process.cpuUsage();
    const started = performance.now();
    await git.clone({ fs, http, dir: request.dir, url: request.url, noCheckout: true });
    return { wallMs: performance.now() - started, cpuMs: cpuMs(cpu), rssBeforeBytes, peakRssBytes: peakRss(reset), processPeakRssBytes: Math.max(processPeakRssBytes, peakRss(reset)) };
  }
  const uploads = packUploadTimer();
  const handler = await createSyncHandler(request.env, { clientPlugins: [uploads.plugin] });
  const rssBeforeBytes = process.memoryUsage.rss();
  const processPeakRssBytes = process.resourceUsage().maxRSS * 1024;
  const reset = resetPeakRss();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const response = await handler(event(request.repository), context);
  const ended = performance.now();
  const phases =
    uploads.firstMs === undefined || uploads.lastMs === undefined
      ? undefined
      : { downloadAndIndexMs: Math.round(uploads.firstMs - started), uploadMs: Math.round(uploads.lastMs - uploads.firstMs), restMs: Math.round(ended - uploads.lastMs) };
  return {
    wallMs: ended - started,
    cpuMs: cpuMs(cpu),
    rssBeforeBytes,
    peakRssBytes: peakRss(reset),
    processPeakRssBytes: Math.max(processPeakRssBytes, peakRss(reset)),
    failures: response.batchItemFailures.length,
    ...(phases === undefined ? {} : { phases }),
  };
}

// BENCH_MEMORY_TRACE=<file>: samples memory every 20 ms into a file, to see what a peak is made of.
const trace = process.env.BENCH_MEMORY_TRACE;
const samples: string[] = [];
const sampler = trace === undefined ? undefined : setInterval(() => {
  const m = process.memoryUsage();
  samples.push([performance.now(), m.rss, m.heapTotal, m.heapUsed, m.external, m.arrayBuffers].map((value) => Math.round(value / (value > 1e5 ? 2 ** 20 : 1))).join(' '));
}, 20);
const result = await run(JSON.parse(process.argv[2] ?? '{}') as ChildRequest);
clearInterval(sampler);
if (trace !== undefined) writeFileSync(trace, `ms rss heapTotal heapUsed external arrayBuffers (MiB)\n${samples.join('\n')}\n`);
process.stdout.write(`${JSON.stringify(result)}\n`);
