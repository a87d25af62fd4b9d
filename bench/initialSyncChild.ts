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
import type { Context, SQSEvent } from 'aws-lambda';
import { createSyncHandler } from '../lambdas/sync/createSyncHandler.ts';

export type ChildRequest =
  | { readonly mode: 'isomorphic-git-clone'; readonly url: string; readonly dir: string }
  | { readonly mode: 'git-geo-sync'; readonly env: Record<string, string>; readonly repository: string };

export interface ChildResult {
  readonly wallMs: number;
  /** User and system CPU time of the sync itself: unlike wall time, other load on the machine barely moves it. */
  readonly cpuMs: number;
  readonly rssBeforeBytes: number;
  readonly peakRssBytes: number;
  readonly failures?: number;
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
    const cpu = process.cpuUsage();
    const started = performance.now();
    await git.clone({ fs, http, dir: request.dir, url: request.url, noCheckout: true });
    return { wallMs: performance.now() - started, cpuMs: cpuMs(cpu), rssBeforeBytes, peakRssBytes: process.resourceUsage().maxRSS * 1024 };
  }
  const handler = await createSyncHandler(request.env);
  const rssBeforeBytes = process.memoryUsage.rss();
  const cpu = process.cpuUsage();
  const started = performance.now();
  const response = await handler(event(request.repository), context);
  return { wallMs: performance.now() - started, cpuMs: cpuMs(cpu), rssBeforeBytes, peakRssBytes: process.resourceUsage().maxRSS * 1024, failures: response.batchItemFailures.length };
}

const result = await run(JSON.parse(process.argv[2] ?? '{}') as ChildRequest);
process.stdout.write(`${JSON.stringify(result)}\n`);
