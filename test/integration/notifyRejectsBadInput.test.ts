import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { gitlabPushHook, sendWebhook, type WebhookRequest } from '../../bin/local/gitlabPushHook.ts';
import { startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';

const ZERO = '0000000000000000000000000000000000000000';
const AFTER = 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7';

describe('notify rejects bad input with a clear 4xx and records nothing', () => {
  let bed: TestBed;
  let valid: WebhookRequest;

  beforeAll(async () => {
    bed = await startTestBed();
    valid = gitlabPushHook({
      primaryUrl: bed.primary.url,
      repository: 'group/project',
      update: { ref: 'refs/heads/main', before: ZERO, after: AFTER },
      token: WEBHOOK_SECRET,
    });
  });
  afterAll(async () => {
    await bed?.stop();
  });

  /** Items in the event log (events and idempotency records alike) and sync invocations so far. */
  async function recorded(): Promise<{ items: number; syncs: number }> {
    const { dynamodb } = bed.runtime.clients.region(bed.runtime.primary.region);
    const scan = await dynamodb.send(new ScanCommand({ TableName: bed.runtime.primary.eventLogTable, Select: 'COUNT' }));
    const syncs = bed.runtime.lambdas.filter((lambda) => lambda.fn.logicalId.startsWith('Sync')).reduce((sum, lambda) => sum + lambda.invocationCount, 0);
    return { items: scan.Count ?? 0, syncs };
  }

  const cases: [string, () => WebhookRequest, number, string][] = [
    ['no token', () => ({ ...valid, headers: { ...valid.headers, 'x-gitlab-token': '' } }), 401, 'ERR_UNAUTHENTICATED'],
    ['a wrong token', () => ({ ...valid, headers: { ...valid.headers, 'x-gitlab-token': 'guess' } }), 401, 'ERR_UNAUTHENTICATED'],
    ['malformed JSON', () => ({ ...valid, body: '{"object_kind": "push",' }), 400, 'ERR_VALIDATION'],
    ['no Git host headers at all', () => ({ headers: { 'content-type': 'application/json' }, body: valid.body }), 400, 'ERR_UNSUPPORTED_EVENT'],
    ['a payload missing the project', () => ({ ...valid, body: JSON.stringify({ object_kind: 'push', ref: 'refs/heads/main', before: ZERO, after: AFTER }) }), 400, 'ERR_VALIDATION'],
    [
      'a hostile repository path',
      () => ({ ...valid, body: valid.body.replace('"path_with_namespace":"group/project"', '"path_with_namespace":"../../etc/passwd"') }),
      400,
      'ERR_VALIDATION',
    ],
    [
      'a payload naming another host',
      () => ({ ...valid, body: valid.body.replaceAll(bed.primary.url, 'https://evil.example.net') }),
      422,
      'ERR_UNTRUSTED_HOST',
    ],
    ['an oversize body', () => ({ ...valid, body: JSON.stringify({ pad: 'x'.repeat(6 * 1024 * 1024) }) }), 413, 'ERR_PAYLOAD_TOO_LARGE'],
  ];

  it.each(cases)('%s', async (_name, build, status, code) => {
    const before = await recorded();
    const response = await sendWebhook(bed.runtime.webhookUrl, build());
    expect(response.status).toBe(status);
    // Lambda's own 6 MB limit answers an oversize body before the function sees it.
    if (status !== 413) {
      expect(response.body.error).toBe(code);
      expect(typeof response.body.message).toBe('string');
    }
    // Give anything wrongly published time to reach a region.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await recorded()).toEqual(before);
  });

  it('accepts the same request once it is well formed, and records exactly one event', async () => {
    const before = await recorded();
    const response = await sendWebhook(bed.runtime.webhookUrl, valid);
    expect(response.status).toBe(202);
    expect(response.body.accepted).toBe(1);
    const after = await recorded();
    expect(after.items).toBeGreaterThan(before.items);
  });

  it('an authenticated event that needs no replication (an Issue Hook) is accepted, so GitLab keeps the hook enabled, and records nothing', async () => {
    // notify answers before it publishes, and publishing writes the known-ref items: let the previous event settle first.
    let before = await recorded();
    for (let settled = false; !settled; ) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      const now = await recorded();
      settled = now.items === before.items && now.syncs === before.syncs;
      before = now;
    }
    const response = await sendWebhook(bed.runtime.webhookUrl, { ...valid, headers: { ...valid.headers, 'x-gitlab-event': 'Issue Hook' } });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ accepted: 0, events: [] });
    expect(String(response.body.ignored)).toContain('Issue Hook');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await recorded()).toEqual(before);
  });

  it('answers 405 to anything but POST', async () => {
    const response = await fetch(bed.runtime.webhookUrl);
    expect(response.status).toBe(405);
  });
});
