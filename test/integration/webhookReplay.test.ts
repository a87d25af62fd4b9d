import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { git } from '../../bin/local/git.ts';
import { gitlabPushHook } from '../../bin/local/gitlabPushHook.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { eventLogOf, recordedEvents } from '../helpers/changeEvents.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { asForgejo, genericDelivery, retargeted, sample, signed, withHeaders, type Delivery, type JsonObject } from '../helpers/webhookSamples.ts';

/** Small, so a handful of concurrent deliveries passes it. */
const MAX_PER_SECOND = 3;
const BURST = 10;

/**
 * A captured, signed webhook resent under a new delivery id (delivery ids are not signed, and
 * GitHub's hooks carry no timestamp) is a replay: answered 200, recorded once. A genuine
 * redelivery of the same delivery is answered as the first time and recorded once. Past
 * maxEventsPerRepositoryPerSecond a repository's deliveries get a quick 429 with Retry-After,
 * recording nothing, and each is recorded once when retried.
 */
describe('webhook replays and the per-repository event rate', () => {
  let bed: TestBed;

  beforeAll(async () => {
    bed = await startTestBed({ config: { maxEventsPerRepositoryPerSecond: MAX_PER_SECOND } });
  }, 120_000);
  afterAll(async () => {
    await bed?.stop();
  });

  async function post(delivery: Delivery): Promise<{ status: number; retryAfter: string | null; body: JsonObject }> {
    const response = await fetch(bed.runtime.webhookUrl, { method: 'POST', headers: delivery.headers, body: delivery.body });
    return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as JsonObject };
  }

  /** A repository on the primary with one push; answers the push's ref update. */
  async function pushedRepository(path: string): Promise<{ repository: RepositoryPath; update: { ref: string; before: string; after: string } }> {
    const repository = parseRepositoryPath(path);
    await bed.createRepository(repository);
    const work = await bed.workingCopy(repository);
    await commit(work, 1, 'replay');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    return { repository, update: bed.pushes.filter((push) => push.repository === repository).at(-1)!.updates[0]! };
  }

  const refsOf = (update: { ref: string; before: string; after: string }) => (json: JsonObject) => void Object.assign(json, update);
  const edit = (delivery: Delivery, change: (json: JsonObject) => void): Delivery => {
    const json = JSON.parse(delivery.body.toString()) as JsonObject;
    change(json);
    return { headers: delivery.headers, body: Buffer.from(JSON.stringify(json)) };
  };

  /** Each host's push, signed, with its delivery id header set to `id` (never covered by the signature). */
  const hosts: Record<string, (repository: RepositoryPath, update: { ref: string; before: string; after: string }, id: string) => Delivery> = {
    GitHub: (repository, update, id) =>
      signed(withHeaders(edit(retargeted(sample('github-push'), { host: 'github.com', repository: 'baxterthehacker/public-repo' }, { baseUrl: bed.primary.url, repository }), refsOf(update)), { 'x-github-delivery': id }), WEBHOOK_SECRET),
    Gitea: (repository, update, id) =>
      signed(withHeaders(edit(retargeted(sample('gitea-push'), { host: 'localhost:3000', repository: 'gitea/webhooks' }, { baseUrl: bed.primary.url, repository }), refsOf(update)), { 'x-gitea-delivery': id }), WEBHOOK_SECRET),
    Forgejo: (repository, update, id) =>
      signed(
        withHeaders(asForgejo(edit(retargeted(sample('gitea-push'), { host: 'localhost:3000', repository: 'gitea/webhooks' }, { baseUrl: bed.primary.url, repository }), refsOf(update))), { 'x-forgejo-delivery': id, 'x-gitea-delivery': id }),
        WEBHOOK_SECRET,
      ),
    GitLab: (repository, update, id) => {
      const hook = gitlabPushHook({ primaryUrl: bed.primary.url, repository, update, token: WEBHOOK_SECRET });
      return { headers: { ...hook.headers, 'x-gitlab-event-uuid': id }, body: Buffer.from(hook.body) };
    },
  };

  it.each(Object.keys(hosts))('a captured %s delivery resent with a new delivery id is answered 200 and not recorded again; the genuine redelivery still gets its first answer', async (host) => {
    const { repository, update } = await pushedRepository(`replay/${host.toLowerCase()}`);
    const original = hosts[host]!(repository, update, crypto.randomUUID());
    const first = await post(original);
    expect(first.status).toBe(202);
    expect(first.body.events).toEqual([expect.objectContaining({ repository, sequence: 1 })]);

    const replay = await post(hosts[host]!(repository, update, crypto.randomUUID()));
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(expect.objectContaining({ accepted: 0, replayOf: first.body.deliveryId, events: first.body.events }));

    // The host's own retry of the first delivery (same id): accepted as the first time, recorded once.
    const redelivery = await post(original);
    expect(redelivery.status).toBe(202);
    expect(redelivery.body.events).toEqual(first.body.events);
    expect(redelivery.body.replayOf).toBeUndefined();

    const events = await recordedEvents(bed.runtime, repository);
    expect(events.map((event) => [event.sequence, event.deliveryId])).toEqual([[1, first.body.deliveryId]]);
  });

  it("git-geo's own format signs its timestamp: the same body signed at another second is a new change, the same signed request under a new delivery id is a replay", async () => {
    const { repository, update } = await pushedRepository('replay/generic');
    const now = Math.floor(Date.now() / 1000);
    const body = { repository, changes: [update] };
    const first = await post(genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body, timestamp: now }));
    expect(first.status).toBe(202);
    const replay = await post(genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body, timestamp: now }));
    expect(replay.status).toBe(200);
    expect(replay.body.replayOf).toBe(first.body.deliveryId);
    const later = await post(genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body, timestamp: now - 1 }));
    expect(later.status).toBe(202);
    expect((await recordedEvents(bed.runtime, repository)).map((event) => event.sequence)).toEqual([1, 2]);
  });

  it('past the replay window the same content is a new change: the stored time is compared (DynamoDB TTL is not relied on)', async () => {
    const repository = parseRepositoryPath('replay/window');
    const log = eventLogOf(bed.runtime);
    const windowSeconds = 300;
    const at = (seconds: number): string => new Date(Date.now() + seconds * 1000).toISOString();
    const build = (deliveryId: string, receivedAt: string) => (sequence: number): ChangeEvent => ({
      version: 1,
      eventId: `generic:${deliveryId}:0`,
      deliveryId,
      source: 'generic',
      kind: 'push',
      repository,
      changes: [],
      sequence,
      receivedAt,
    });
    const guard = (deliveryId: string) => ({ contentKey: 'generic:same-content:0', deliveryId, replayWindowSeconds: windowSeconds, maxPerSecond: MAX_PER_SECOND });
    const first = await log.record(repository, 'generic:a:0', at(0), build('a', at(0)), guard('a'));
    expect(first).toEqual(expect.objectContaining({ created: true }));
    const within = await log.record(repository, 'generic:b:0', at(windowSeconds - 5), build('b', at(windowSeconds - 5)), guard('b'));
    expect(within).toEqual(expect.objectContaining({ created: false, replayOf: 'a' }));
    expect(within.event.sequence).toBe(first.event.sequence);
    const past = await log.record(repository, 'generic:c:0', at(windowSeconds + 5), build('c', at(windowSeconds + 5)), guard('c'));
    expect(past).toEqual(expect.objectContaining({ created: true }));
    expect(past.event.sequence).toBe(first.event.sequence + 1);
    // And the window starts again from the change recorded last.
    const again = await log.record(repository, 'generic:d:0', at(windowSeconds + 10), build('d', at(windowSeconds + 10)), guard('d'));
    expect(again).toEqual(expect.objectContaining({ created: false, replayOf: 'c' }));
  });

  it(`a burst past ${MAX_PER_SECOND} events per second for one repository: quick 429s with Retry-After that record nothing; retried, every change is recorded once; other repositories are not held back`, async () => {
    const { repository } = await pushedRepository('replay/burst');
    const other = await pushedRepository('replay/bystander');
    const before = (await recordedEvents(bed.runtime, repository)).length;
    // Distinct changes (each its own content), all at once.
    const deliveries = Array.from({ length: BURST }, () =>
      hosts.GitLab!(repository, { ref: 'refs/heads/main', before: randomBytes(20).toString('hex'), after: randomBytes(20).toString('hex') }, crypto.randomUUID()),
    );
    const [answers, bystander] = await Promise.all([Promise.all(deliveries.map(post)), post(hosts.GitLab!(other.repository, other.update, crypto.randomUUID()))]);
    expect(bystander.status).toBe(202);
    const accepted = answers.filter((answer) => answer.status === 202);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(accepted.length + limited.length).toBe(BURST);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    for (const answer of limited) {
      expect(answer.retryAfter).toBe('1');
      expect(answer.body).toEqual(expect.objectContaining({ error: 'ERR_RATE_LIMITED', retryAfterSeconds: 1 }));
    }
    // What was refused recorded nothing.
    expect(await recordedEvents(bed.runtime, repository)).toHaveLength(before + accepted.length);

    // The host retries after Retry-After: each refused delivery is recorded once.
    let pending = deliveries.filter((_, index) => answers[index]!.status === 429);
    for (let round = 0; pending.length > 0 && round < 20; round++) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const retried = await Promise.all(pending.map(post));
      for (const answer of retried) expect([202, 429]).toContain(answer.status);
      pending = pending.filter((_, index) => retried[index]!.status === 429);
    }
    expect(pending).toHaveLength(0);
    const events = await recordedEvents(bed.runtime, repository);
    expect(events).toHaveLength(before + BURST);
    expect(new Set(events.map((event) => event.deliveryId)).size).toBe(events.length);
    // No sequence was taken by a refused delivery: they follow one another.
    expect(events.map((event) => event.sequence)).toEqual(Array.from({ length: events.length }, (_, index) => index + 1));
  }, 120_000);
});
