import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { git } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { mirrorPrefix } from '../../lambdas/shared/git/MirrorRepository.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { recordedEvents, sendToRegion, syncInvocations } from '../helpers/changeEvents.ts';
import { eventually } from '../helpers/eventually.ts';
import { fetchesOf, mirrorContents } from '../helpers/mirrorChecks.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { asForgejo, deliver, genericDelivery, retargeted, sample, signed, withHeaders, type Delivery, type JsonObject } from '../helpers/webhookSamples.ts';

/**
 * Duplicates and reordering change nothing: a host that delivers twice, a queue that delivers
 * twice, an older event after a newer one all end in exactly the same mirror and registry.
 */
describe('duplicate and out-of-order deliveries lead to exactly the same final state', () => {
  let bed: TestBed;
  let regions: string[];
  const repository = parseRepositoryPath('dedup/service');
  let work: string;

  beforeAll(async () => {
    bed = await startTestBed();
    regions = Object.keys(bed.runtime.regions);
    await bed.createRepository(repository);
    work = await bed.workingCopy(repository);
  });
  afterAll(async () => {
    await bed?.stop();
  });

  async function pushOne(label: string): Promise<{ ref: string; before: string; after: string }> {
    await commit(work, 1, label);
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    return bed.pushes.at(-1)!.updates[0]!;
  }

  /** A push as each vendor delivers it, with its own delivery id header. */
  function vendorDeliveries(update: { ref: string; before: string; after: string }): [string, Delivery][] {
    const set = (delivery: Delivery, edit: (json: JsonObject) => void): Delivery => {
      const json = JSON.parse(delivery.body.toString()) as JsonObject;
      edit(json);
      return { headers: delivery.headers, body: Buffer.from(JSON.stringify(json)) };
    };
    const refs = (json: JsonObject): void => void Object.assign(json, update);
    const gitea = set(retargeted(sample('gitea-push'), { host: 'localhost:3000', repository: 'gitea/webhooks' }, { baseUrl: bed.primary.url, repository }), refs);
    const id = (): string => crypto.randomUUID();
    const gitlab = gitlabPushHook({ primaryUrl: bed.primary.url, repository, update, token: WEBHOOK_SECRET });
    return [
      ['GitLab', { headers: gitlab.headers, body: Buffer.from(gitlab.body) }],
      ['GitHub', signed(withHeaders(set(retargeted(sample('github-push'), { host: 'github.com', repository: 'baxterthehacker/public-repo' }, { baseUrl: bed.primary.url, repository }), refs), { 'x-github-delivery': id() }), WEBHOOK_SECRET)],
      ['Gitea', signed(withHeaders(gitea, { 'x-gitea-delivery': id() }), WEBHOOK_SECRET)],
      ['Forgejo', signed(withHeaders(asForgejo(gitea), { 'x-forgejo-delivery': id() }), WEBHOOK_SECRET)],
      ['generic', genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body: { repository, changes: [update] } })],
    ];
  }

  async function queuesDrained(): Promise<void> {
    await eventually(async () => {
      for (const region of regions) {
        const { Attributes } = await bed.runtime.clients.region(region).sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: bed.runtime.regions[region]!.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
        );
        if (Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible) > 0) return undefined;
      }
      return true;
    });
  }

  /** Everything that makes up the final state of every region: the mirror byte for byte, and the registry's view. */
  async function finalState(): Promise<unknown> {
    return await Promise.all(
      regions.map(async (region) => {
        const state = await bed.runtime.registry(region).get(repository);
        return {
          mirror: Object.fromEntries(await mirrorContents(bed.runtime.mirrors(region), mirrorPrefix(repository))),
          registry: { status: state?.status, syncedSequence: state?.syncedSequence, refs: state?.refs, refsChecksum: state?.refsChecksum, head: state?.head, packCount: state?.packCount },
        };
      }),
    );
  }

  it.each(['GitLab', 'GitHub', 'Gitea', 'Forgejo', 'generic'])('a %s delivery sent twice records one event; the retry gets the first answer', async (vendor) => {
    const update = await pushOne(`dup-${vendor}`);
    const delivery = vendorDeliveries(update).find(([name]) => name === vendor)![1];
    const before = (await recordedEvents(bed.runtime, repository)).length;
    const first = await deliver(bed.runtime.webhookUrl, delivery);
    const second = await deliver(bed.runtime.webhookUrl, delivery);
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body.events).toEqual(first.body.events);
    expect(await recordedEvents(bed.runtime, repository)).toHaveLength(before + 1);
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, minSequence: first.body.events[0].sequence as number, timeoutMs: 60_000 });
  });

  it('the same delivery sent five times at once records exactly one event (the others: 202 with it, or 409 to retry)', async () => {
    const update = await pushOne('concurrent');
    const hook = gitlabPushHook({ primaryUrl: bed.primary.url, repository, update, token: WEBHOOK_SECRET });
    const before = (await recordedEvents(bed.runtime, repository)).length;
    const responses = await Promise.all(Array.from({ length: 5 }, () => sendWebhook(bed.runtime.webhookUrl, hook)));
    expect(responses.some((response) => response.status === 202)).toBe(true);
    for (const response of responses) expect([202, 409]).toContain(response.status);
    expect(await recordedEvents(bed.runtime, repository)).toHaveLength(before + 1);
    const sequences = new Set(responses.filter((response) => response.status === 202).map((response) => (response.body.events as { sequence: number }[])[0]!.sequence));
    expect(sequences.size).toBe(1);
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, minSequence: [...sequences][0]!, timeoutMs: 60_000 });
  });

  it('every event delivered again by the queue, newest first (duplicates, out of order): same mirror, same registry, no fetch', async () => {
    await queuesDrained();
    const before = await finalState();
    const fetches = fetchesOf(bed.primary.requests, repository).length;
    const primaryRequests = bed.primary.requests.filter((request) => request.userAgent === 'git-geo').length;
    const invocations = syncInvocations(bed.runtime);
    const events = await recordedEvents(bed.runtime, repository);
    expect(events.length).toBeGreaterThanOrEqual(6);
    for (const region of regions) {
      for (const event of [...events].reverse()) await sendToRegion(bed.runtime, region, event);
      // And the newest once more, as a plain duplicate.
      await sendToRegion(bed.runtime, region, events.at(-1)!);
    }
    await eventually(() => Promise.resolve(syncInvocations(bed.runtime) > invocations ? true : undefined));
    await queuesDrained();
    expect(await finalState()).toEqual(before);
    expect(fetchesOf(bed.primary.requests, repository)).toHaveLength(fetches);
    // Not even a ref discovery: the registry says every one of these sequences is covered.
    expect(bed.primary.requests.filter((request) => request.userAgent === 'git-geo')).toHaveLength(primaryRequests);
  });
});
