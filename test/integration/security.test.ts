import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, PutSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { git } from '../../bin/local/git.ts';
import { gitlabPushHook, sendWebhook } from '../../bin/local/gitlabPushHook.ts';
import { startLocalRuntime } from '../../bin/local/startLocalRuntime.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { redriveDeadLetters } from '../../bin/ops/redriveDeadLetters.ts';
import { parseGeoConfig } from '../../cdk/GeoConfig.ts';
import { createNotifyHandler } from '../../lambdas/notify/createNotifyHandler.ts';
import { ConfigurationError } from '../../lambdas/shared/errors/index.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { syncInvocations } from '../helpers/changeEvents.ts';
import { eventually } from '../helpers/eventually.ts';
import { commit, startTestBed, WEBHOOK_SECRET, type TestBed } from '../helpers/testRuntime.ts';
import { asForgejo, deliver, edited, genericDelivery, retargeted, sample, signed, withHeaders, type Delivery, type JsonObject } from '../helpers/webhookSamples.ts';

const MAX_WEBHOOK_BYTES = 64 * 1024;
const READER = 'geo-reader';
const RIGHT_PASSWORD = `right-${randomBytes(8).toString('hex')}`;
const WRONG_PASSWORD = `wrong-${randomBytes(8).toString('hex')}`;
const PUSHER_PASSWORD = `push-${randomBytes(8).toString('hex')}`;

/** Everything that must never show the primary's credentials, in any encoding they travel in. */
const SECRETS = [RIGHT_PASSWORD, WRONG_PASSWORD, ...[RIGHT_PASSWORD, WRONG_PASSWORD].map((password) => Buffer.from(`${READER}:${password}`).toString('base64'))];

describe('security of every input', () => {
  let bed: TestBed;
  const logs: string[] = [];
  const answers: string[] = [];
  let restoreLogs: () => void;

  beforeAll(async () => {
    // Logs at DEBUG, captured: they are checked for the primary's credentials.
    process.env.POWERTOOLS_LOG_LEVEL = 'DEBUG';
    const capture = (stream: NodeJS.WriteStream): jest.Spied<typeof stream.write> =>
      jest.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
        logs.push(String(chunk));
        return true;
      });
    const spies = [capture(process.stdout), capture(process.stderr)];
    restoreLogs = () => spies.forEach((spy) => spy.mockRestore());
    bed = await startTestBed({
      config: { maxWebhookBytes: MAX_WEBHOOK_BYTES, primaryCredentialsSecretName: 'git-geo/primary-read-credentials' },
      server: { users: { [READER]: RIGHT_PASSWORD, pusher: PUSHER_PASSWORD }, isPrivate: (repository) => repository.startsWith('private/') },
      primaryCredentials: { username: READER, password: WRONG_PASSWORD },
    });
  });
  afterAll(async () => {
    await bed?.stop();
    restoreLogs?.();
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
  });

  /** Event log items and sync invocations: what any rejection must leave exactly as it was. */
  async function recorded(): Promise<{ items: number; syncs: number }> {
    const { dynamodb } = bed.runtime.clients.region(bed.runtime.primary.region);
    const scan = await dynamodb.send(new ScanCommand({ TableName: bed.runtime.primary.eventLogTable, Select: 'COUNT', ConsistentRead: true }));
    return { items: scan.Count ?? 0, syncs: syncInvocations(bed.runtime) };
  }

  async function rejected(delivery: Delivery, status: number, code: string): Promise<void> {
    const response = await deliver(bed.runtime.webhookUrl, delivery);
    answers.push(JSON.stringify(response.body));
    expect({ status: response.status, code: response.body.error }).toEqual({ status, code });
    expect(typeof response.body.message).toBe('string');
  }

  /** A valid push delivery from each vendor for `repository`, built from its documented sample. */
  function vendors(repository: string): [string, (edit?: (json: JsonObject) => void) => Delivery][] {
    const base = { baseUrl: bed.primary.url, repository };
    const gitlab = retargeted(sample('gitlab-push'), { host: 'example.com', repository: 'mike/diaspora' }, base);
    const github = retargeted(sample('github-push'), { host: 'github.com', repository: 'baxterthehacker/public-repo' }, base);
    const gitea = retargeted(sample('gitea-push'), { host: 'localhost:3000', repository: 'gitea/webhooks' }, base);
    const gitlabHeaders = { 'x-gitlab-instance': bed.primary.url };
    return [
      ['GitLab', (edit = () => undefined) => signed(withHeaders(edited(gitlab, edit), gitlabHeaders), WEBHOOK_SECRET)],
      ['GitHub', (edit = () => undefined) => signed(edited(github, edit), WEBHOOK_SECRET)],
      ['Gitea', (edit = () => undefined) => signed(edited(gitea, edit), WEBHOOK_SECRET)],
      ['Forgejo', (edit = () => undefined) => signed(asForgejo(edited(gitea, edit)), WEBHOOK_SECRET)],
    ];
  }

  /** Where each vendor names the repository's host and path. */
  const urlField: Record<string, (json: JsonObject, url: string) => void> = {
    GitLab: (json, url) => void (json.project.git_http_url = url),
    GitHub: (json, url) => void (json.repository.clone_url = url),
    Gitea: (json, url) => void (json.repository.clone_url = url),
    Forgejo: (json, url) => void (json.repository.clone_url = url),
  };
  const pathField: Record<string, (json: JsonObject, path: string) => void> = {
    GitLab: (json, path) => void (json.project.path_with_namespace = path),
    GitHub: (json, path) => void (json.repository.full_name = path),
    Gitea: (json, path) => void (json.repository.full_name = path),
    Forgejo: (json, path) => void (json.repository.full_name = path),
  };

  describe('no unauthenticated path', () => {
    it('the local runtime refuses to start without a webhook secret', async () => {
      const config = parseGeoConfig({ primaryRegion: 'us-east-1', secondaryRegions: ['eu-west-1'], primaryUrls: ['http://127.0.0.1:9'], webhookSecretName: 'unused' });
      await expect(startLocalRuntime({ config, webhookSecret: undefined })).rejects.toThrow(/refusing to start: no webhook secret/);
      await expect(startLocalRuntime({ config, webhookSecret: '  ' })).rejects.toThrow(/refusing to start/);
    });

    it('the deployed notify function refuses to start when the secret in Secrets Manager is empty', async () => {
      const name = `git-geo/empty-${randomBytes(4).toString('hex')}`;
      await bed.runtime.clients.region('us-east-1').secrets.send(new CreateSecretCommand({ Name: name, SecretString: '   ' }));
      const env = { AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL, EVENT_LOG_TABLE: 't', TOPIC_ARN: 'arn:aws:sns:us-east-1:1:t.fifo', GIT_GEO_SETTINGS: JSON.stringify({ webhookSecretName: name, primaryUrls: [bed.primary.url] }) };
      const failure = await createNotifyHandler(env).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(ConfigurationError);
      expect((failure as Error).message).toMatch(/webhook secret is empty/);
    });

    it('every vendor: a missing signature, a wrong secret, or a body changed after signing is 401, and nothing is recorded', async () => {
      const before = await recorded();
      const signatureHeaders = ['x-gitlab-token', 'x-hub-signature-256', 'x-hub-signature', 'x-gitea-signature', 'x-gogs-signature', 'x-forgejo-signature'];
      for (const [, build] of vendors('sec/auth')) {
        const good = build();
        await rejected(withHeaders(good, Object.fromEntries(signatureHeaders.map((name) => [name, undefined]))), 401, 'ERR_UNAUTHENTICATED');
        const wrong = Object.fromEntries(Object.entries(good.headers).filter(([name]) => signatureHeaders.includes(name)).map(([name, value]) => [name, value.replace(/[0-9a-f]{8}$/, '00000000')]));
        await rejected(withHeaders(good, { ...wrong, ...(good.headers['x-gitlab-token'] ? { 'x-gitlab-token': 'not-the-secret' } : {}) }), 401, 'ERR_UNAUTHENTICATED');
        if (!good.headers['x-gitlab-token']) await rejected({ headers: good.headers, body: Buffer.from(good.body.toString().replace('"ref":', '"ref" :')) }, 401, 'ERR_UNAUTHENTICATED');
      }
      const generic = genericDelivery({ secret: 'not-the-secret', event: 'push', body: { repository: 'sec/auth' } });
      await rejected(generic, 401, 'ERR_UNAUTHENTICATED');
      await rejected(genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body: { repository: 'sec/auth' }, timestamp: Math.floor(Date.now() / 1000) - 3600 }), 401, 'ERR_UNAUTHENTICATED');
      expect(await recorded()).toEqual(before);
    });
  });

  it('no SSRF: every vendor naming another host (a cloud metadata address, a lookalike) is 422, and nothing is recorded', async () => {
    const before = await recorded();
    for (const [vendor, build] of vendors('sec/ssrf')) {
      for (const url of ['http://169.254.169.254/latest/meta-data.git', `http://127.0.0.1.evil.example/sec/ssrf.git`, 'file:///etc/passwd']) {
        await rejected(build((json) => urlField[vendor]!(json, url)), 422, 'ERR_UNTRUSTED_HOST');
      }
    }
    await rejected(genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body: { repository: 'sec/ssrf', url: 'http://10.0.0.7/x.git' } }), 422, 'ERR_UNTRUSTED_HOST');
    expect(await recorded()).toEqual(before);
  });

  it('hostile repository paths, in every vendor, are a clear 400 before they become a key or a URL, and nothing is recorded', async () => {
    const before = await recorded();
    const hostile = ['../../etc/passwd', '/etc/passwd', 'group/..', 'group/\u0000x', 'group/x\ny', `group/${'a'.repeat(300)}`, '.git-geo/tombstones/x', 'group/%2e%2e'];
    for (const [vendor, build] of vendors('sec/paths')) {
      for (const path of hostile) {
        const response = await deliver(bed.runtime.webhookUrl, build((json) => pathField[vendor]!(json, path)));
        answers.push(JSON.stringify(response.body));
        expect({ vendor, path, status: response.status, code: response.body.error }).toEqual({ vendor, path, status: 400, code: 'ERR_VALIDATION' });
        expect(JSON.stringify(response.body.issues)).toMatch(/invalid repository path/);
      }
    }
    for (const path of hostile) await rejected(genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body: { repository: path } }), 400, 'ERR_VALIDATION');
    expect(await recorded()).toEqual(before);
  });

  it('a payload over maxWebhookBytes is 413 from the handler itself, whoever sent it, and nothing is recorded', async () => {
    const before = await recorded();
    for (const [, build] of vendors('sec/size')) {
      await rejected(build((json) => void (json.padding = 'x'.repeat(MAX_WEBHOOK_BYTES))), 413, 'ERR_PAYLOAD_TOO_LARGE');
    }
    await rejected(genericDelivery({ secret: WEBHOOK_SECRET, event: 'push', body: { repository: 'sec/size', changes: Array.from({ length: 1000 }, () => ({ ref: 'refs/heads/main', before: '0'.repeat(40), after: 'a'.repeat(40) })) } }), 413, 'ERR_PAYLOAD_TOO_LARGE');
    expect(await recorded()).toEqual(before);
  });

  it("the primary's credentials never appear in logs, registry errors, dead letters or answers: wrong password, then right", async () => {
    const path = parseRepositoryPath('private/repo');
    const regions = Object.keys(bed.runtime.regions);
    await bed.createRepository(path);
    const work = join(bed.root, 'private-work');
    const authed = bed.primary.url.replace('http://', `http://pusher:${PUSHER_PASSWORD}@`);
    await git(['clone', '-q', `${authed}/${path}.git`, work]);
    await commit(work, 2, 'private');
    await git(['push', '-q', 'origin', 'HEAD:main'], { cwd: work });
    const update = bed.pushes.at(-1)!.updates[0]!;
    const response = await sendWebhook(bed.runtime.webhookUrl, gitlabPushHook({ primaryUrl: bed.primary.url, repository: path, update, token: WEBHOOK_SECRET }));
    answers.push(JSON.stringify(response.body));
    expect(response.status).toBe(202);

    // Wrong password: access denied is permanent; the message is parked in the dead-letter queue.
    for (const region of regions) {
      const state = await eventually(async () => {
        const current = await bed.runtime.registry(region).get(path);
        return current?.status === 'failed' ? current : undefined;
      });
      expect(state.lastError).toMatchObject({ code: 'ERR_ACCESS_DENIED', retryable: false });
      answers.push(JSON.stringify(state));
      await eventually(async () => {
        const { Attributes } = await bed.runtime.clients.region(region).sqs.send(
          new GetQueueAttributesCommand({ QueueUrl: bed.runtime.regions[region]!.deadLetterQueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
        );
        return Number(Attributes?.ApproximateNumberOfMessages) === 1 ? true : undefined;
      });
    }
    const deadLetter = await redriveDeadLetters({ sqs: bed.runtime.clients.region(regions[0]!).sqs, deadLetterQueueUrl: bed.runtime.regions[regions[0]!]!.deadLetterQueueUrl, dryRun: true });
    expect(deadLetter.messages[0]?.errorCode).toBe('ERR_ACCESS_DENIED');
    answers.push(JSON.stringify(deadLetter));

    // The operator puts the right password in Secrets Manager and redrives: the sync re-reads the secret after the 401.
    // Each region reads its own replica; in AWS replication carries the new value, here it is written to each region.
    for (const region of [bed.runtime.primary.region, ...regions]) {
      await bed.runtime.clients.region(region).secrets.send(
        new PutSecretValueCommand({ SecretId: 'git-geo/primary-read-credentials', SecretString: JSON.stringify({ username: READER, password: RIGHT_PASSWORD }) }),
      );
    }
    for (const region of regions) {
      const moved = await redriveDeadLetters({ sqs: bed.runtime.clients.region(region).sqs, deadLetterQueueUrl: bed.runtime.regions[region]!.deadLetterQueueUrl });
      expect(moved.moved).toBe(1);
    }
    const authorization = `Basic ${Buffer.from(`${READER}:${RIGHT_PASSWORD}`).toString('base64')}`;
    const states = await waitForConvergence({ runtime: bed.runtime, repository: path, primaryUrl: bed.primary.url, authorization, timeoutMs: 60_000 });
    for (const state of states.values()) answers.push(JSON.stringify(state));

    const everything = [...logs, ...answers].join('\n');
    // The logs are really there (DEBUG), and they tell what happened; they just never hold the credentials.
    expect(logs.join('')).toContain('sync failed permanently');
    expect(logs.join('')).toContain('ERR_ACCESS_DENIED');
    for (const secret of SECRETS) expect(everything).not.toContain(secret);
  });
});
