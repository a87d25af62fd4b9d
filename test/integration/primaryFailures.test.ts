import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { git } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { redriveDeadLetters } from '../../bin/ops/redriveDeadLetters.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { targetRuntime } from '../helpers/localTarget.ts';
import { eventually } from '../helpers/eventually.ts';
import { expectMirrorsMatchPrimary } from '../helpers/mirrorChecks.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { deliver, genericDelivery } from '../helpers/webhookSamples.ts';
import { runCliJson } from '../helpers/runCli.ts';

const MAX_RECEIVE_COUNT = 3;
/** Short, so the hanging primary is given up on quickly; long enough for a loaded machine's http-backend. */
const PRIMARY_TIMEOUT_SECONDS = 3;

describe('transient and permanent failures of the primary', () => {
  let bed: TestBed;
  let regions: string[];

  beforeAll(async () => {
    bed = await startTestBed({ config: { syncRetryBaseSeconds: 1, maxReceiveCount: MAX_RECEIVE_COUNT, primaryTimeoutSeconds: PRIMARY_TIMEOUT_SECONDS } });
    regions = Object.keys(bed.runtime.regions);
  });
  afterAll(async () => {
    bed?.primary.setFault(undefined);
    await bed?.stop();
  });

  async function pushed(path: RepositoryPath): Promise<void> {
    await bed.createRepository(path);
    const work = await bed.workingCopy(path);
    await commit(work, 2, path.replaceAll('/', '-'));
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
  }

  async function notify(path: RepositoryPath): Promise<number> {
    const response = await deliver(bed.runtime.webhookUrl, genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body: { repository: path } }));
    expect(response.status).toBe(202);
    return response.body.events[0].sequence as number;
  }

  /** Every distinct failed state a region's registry shows until `until` holds. */
  async function failuresUntil(region: string, path: RepositoryPath, until: (state: RepositoryState) => boolean): Promise<RepositoryState[]> {
    const seen = new Map<number, RepositoryState>();
    await eventually(async () => {
      const state = await bed.runtime.registry(region).get(path);
      if (state?.status === 'failed') seen.set(state.attempts, state);
      return state !== undefined && until(state) ? state : undefined;
    }, { intervalMs: 50, timeoutMs: 90_000 });
    return [...seen.values()];
  }

  async function deadLetterCount(region: string): Promise<number> {
    const { Attributes } = await bed.runtime.clients.region(region).sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: bed.runtime.regions[region]!.deadLetterQueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  async function redrive(region: string): Promise<{ moved: number }> {
    await targetRuntime(bed.runtime);
    return await runCliJson('redrive', '--region', region);
  }

  const transient: [string, () => Promise<void> | void, () => Promise<void> | void, RegExp][] = [
    ['unreachable (connection refused)', () => bed.primary.pause(), () => bed.primary.start(), /primary unreachable: ECONNREFUSED/],
    ['answering 503', () => bed.primary.setFault({ status: 503 }), () => bed.primary.setFault(undefined), /primary answered 503/],
    ['timing out (it never answers)', () => bed.primary.setFault({ hang: true }), () => bed.primary.setFault(undefined), new RegExp(`timed out after ${PRIMARY_TIMEOUT_SECONDS * 1000} ms`)],
  ];

  it.each(transient)('primary %s: retries with growing backoff, shows failed with the error, attempts and next attempt, recovers', async (label, breakIt, fixIt, message) => {
    const path = parseRepositoryPath(`down/${label.split(' ')[0]}`);
    await pushed(path);
    await breakIt();
    let sequence: number;
    try {
      sequence = await notify(path);
      // Both regions at once: each fails and retries on its own clock.
      const byRegion = await Promise.all(regions.map((region) => failuresUntil(region, path, (state) => state.status === 'failed' && state.attempts >= 2)));
      for (const failures of byRegion) {
        const [first, second] = failures;
        expect(first).toMatchObject({ status: 'failed', attempts: 1, lastError: { code: 'ERR_PRIMARY_UNAVAILABLE', retryable: true } });
        expect(first?.lastError?.message).toMatch(message);
        expect(second?.attempts).toBe(2);
        // The next attempt is announced, and the delay doubles: 1 s, then 2 s.
        const delay = (state: RepositoryState): number => Date.parse(state.nextAttemptAt!) - Date.parse(state.lastError!.at);
        expect(delay(first!)).toBe(1000);
        expect(delay(second!)).toBe(2000);
      }
    } finally {
      await fixIt();
    }
    const states = await waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
    for (const state of states.values()) {
      expect(state).toMatchObject({ status: 'synced', attempts: 0 });
      expect(state.lastError).toBeUndefined();
      expect(state.nextAttemptAt).toBeUndefined();
    }
    await expectMirrorsMatchPrimary(regions.map((region) => bed.runtime.mirrors(region)), path, bed.primary.url, bed.root);
  });

  it('a primary down for longer than the retries: after maxReceiveCount the event goes to the DLQ, and git-geo redrive brings it back', async () => {
    const path = parseRepositoryPath('down/for-long');
    await pushed(path);
    const parked = await Promise.all(regions.map((region) => deadLetterCount(region)));
    bed.primary.setFault({ status: 502 });
    let sequence: number;
    try {
      sequence = await notify(path);
      for (const [index, region] of regions.entries()) {
        await eventually(async () => ((await deadLetterCount(region)) === parked[index]! + 1 ? true : undefined), { timeoutMs: 90_000 });
        expect(await bed.runtime.registry(region).get(path)).toMatchObject({ status: 'failed', attempts: MAX_RECEIVE_COUNT, lastError: { code: 'ERR_PRIMARY_UNAVAILABLE' } });
      }
    } finally {
      bed.primary.setFault(undefined);
    }
    for (const [index, region] of regions.entries()) expect(await redrive(region)).toMatchObject({ moved: parked[index]! + 1 });
    await waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
    for (const region of regions) expect(await deadLetterCount(region)).toBe(0);
  });

  it('a repository the primary does not have (404) fails permanently: parked in the DLQ at once, no retry loop; redriven once it exists', async () => {
    const path = parseRepositoryPath('down/not-yet');
    const parked = await Promise.all(regions.map((region) => deadLetterCount(region)));
    expect(parked).toEqual(regions.map(() => 0));
    const sequence = await notify(path);
    for (const region of regions) {
      const state = await eventually(async () => {
        const current = await bed.runtime.registry(region).get(path);
        return current?.status === 'failed' ? current : undefined;
      });
      expect(state).toMatchObject({ attempts: 1, lastError: { code: 'ERR_REPOSITORY_NOT_FOUND', retryable: false } });
      expect(state.nextAttemptAt).toBeUndefined();
      await eventually(async () => ((await deadLetterCount(region)) === 1 ? true : undefined));
    }
    const listed = await redriveDeadLetters({ sqs: bed.runtime.clients.region(regions[0]!).sqs, deadLetterQueueUrl: bed.runtime.regions[regions[0]!]!.deadLetterQueueUrl, dryRun: true });
    expect(listed.messages).toEqual([expect.objectContaining({ groupId: path, errorCode: 'ERR_REPOSITORY_NOT_FOUND' })]);
    // No loop: the primary is not asked again while the message is parked.
    const asked = bed.primary.requests.filter((request) => request.path.startsWith(`/${path}.git/`)).length;
    expect(asked).toBe(regions.length);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(bed.primary.requests.filter((request) => request.path.startsWith(`/${path}.git/`))).toHaveLength(asked);
    for (const region of regions) expect((await bed.runtime.registry(region).get(path))?.attempts).toBe(1);

    // The operator creates it on the primary (or fixes the URL), then redrives.
    await pushed(path);
    for (const region of regions) expect(await redrive(region)).toMatchObject({ moved: 1 });
    await waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, minSequence: sequence, timeoutMs: 60_000 });
  });

  describe('no SSRF through redirects', () => {
    let elsewhere: Server;
    let hits = 0;
    beforeAll(async () => {
      elsewhere = createServer((_req, res) => void (hits++, res.writeHead(200).end('secret metadata')));
      await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.2', resolve));
    });
    afterAll(async () => {
      await new Promise((resolve) => elsewhere.close(resolve));
    });

    it('the sync refuses a redirect to another host: a permanent ERR_UNTRUSTED_HOST, and the other host is never contacted', async () => {
      const path = parseRepositoryPath('down/redirected');
      await pushed(path);
      const { port } = elsewhere.address() as AddressInfo;
      bed.primary.setFault({ status: 302, location: `http://127.0.0.2:${port}/latest/meta-data/${path}.git/info/refs?service=git-upload-pack` });
      try {
        await notify(path);
        for (const region of regions) {
          const state = await eventually(async () => {
            const current = await bed.runtime.registry(region).get(path);
            return current?.status === 'failed' ? current : undefined;
          });
          expect(state.lastError).toMatchObject({ code: 'ERR_UNTRUSTED_HOST', retryable: false });
        }
      } finally {
        bed.primary.setFault(undefined);
      }
      expect(hits).toBe(0);
    });
  });
});
