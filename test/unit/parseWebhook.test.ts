import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseWebhook, type WebhookPolicy } from '../../lambdas/notify/parseWebhook.ts';
import type { WebhookRequest } from '../../lambdas/notify/hosts/WebhookSource.ts';
import { primaryHostsOf } from '../../lambdas/notify/trustedHosts.ts';
import {
  AuthenticationError,
  type GeoError,
  PayloadTooLargeError,
  UnsupportedEventError,
  UntrustedHostError,
  ValidationError,
} from '../../lambdas/shared/errors/index.ts';

const SECRET = 'correct horse battery staple';

function fixture(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url));
}

/**
 * The vendor's sample delivery: its exact body bytes and its headers, lower-cased as Function URLs
 * deliver them, with the placeholder token replaced by `token` (null: no X-Gitlab-Token header).
 */
function sample(name: 'gitlab-push' | 'gitlab-tag-push', token: string | null = SECRET): WebhookRequest {
  const raw = JSON.parse(fixture(`${name}.headers.json`).toString('utf8')) as Record<string, string>;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) headers[key.toLowerCase()] = value;
  expect(headers['x-gitlab-token']).toBe('TOKEN');
  if (token === null) delete headers['x-gitlab-token'];
  else headers['x-gitlab-token'] = token;
  return { headers, body: fixture(`${name}.json`) };
}

/**
 * The documented samples name http://example.com in the payload and https://gitlab.com in X-Gitlab-Instance;
 * both are trusted primaries unless a test says otherwise.
 */
function policy(overrides: Partial<WebhookPolicy> = {}): WebhookPolicy {
  return { secret: SECRET, maxBodyBytes: 1024 * 1024, primaryHosts: primaryHostsOf(['https://example.com', 'https://gitlab.com']), ...overrides };
}

function withBody(request: WebhookRequest, body: string | Buffer): WebhookRequest {
  return { headers: request.headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8') };
}

function withHeaders(request: WebhookRequest, change: Record<string, string | undefined>): WebhookRequest {
  return { headers: { ...request.headers, ...change }, body: request.body };
}

function editedPayload(request: WebhookRequest, edit: (json: { project: Record<string, unknown> } & Record<string, unknown>) => void): WebhookRequest {
  const json = JSON.parse(request.body.toString('utf8')) as { project: Record<string, unknown> } & Record<string, unknown>;
  edit(json);
  return withBody(request, JSON.stringify(json));
}

/** Runs parseWebhook and answers the GeoError it must throw, checking its class, code and status. */
function failure(request: WebhookRequest, webhookPolicy: WebhookPolicy, type: abstract new (...args: never[]) => GeoError, status: number): GeoError {
  try {
    parseWebhook(request, webhookPolicy);
  } catch (error) {
    expect(error).toBeInstanceOf(type);
    expect((error as GeoError).status).toBe(status);
    return error as GeoError;
  }
  throw new Error(`parseWebhook accepted the request; expected ${type.name}`);
}

describe('parseWebhook with GitLab', () => {
  describe('the documented samples', () => {
    it('are the vendor files, unchanged', () => {
      expect(fixture('gitlab-push.json').toString('utf8')).toContain('"path_with_namespace":"mike/diaspora"');
      expect(fixture('gitlab-tag-push.json').toString('utf8')).toContain('"object_kind": "tag_push"');
    });

    it('a Push Hook with the right token becomes one push draft', () => {
      const parsed = parseWebhook(sample('gitlab-push'), policy());
      expect(parsed.source).toBe('gitlab');
      expect(parsed.eventName).toBe('Push Hook');
      expect(parsed.deliveryId).toBe('f5e5f430-f57b-4e6e-9fac-d9128cd7232f');
      expect(parsed.drafts).toEqual([
        {
          kind: 'push',
          repository: 'mike/diaspora',
          changes: [{ ref: 'refs/heads/master', before: '95790bf891e76fee5e1747ab589903a6a1f80f22', after: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7' }],
          defaultBranch: 'refs/heads/master',
        },
      ]);
    });

    it('a Tag Push Hook (tag created: before is all zeros) becomes a push draft for refs/tags/', () => {
      const parsed = parseWebhook(sample('gitlab-tag-push'), policy());
      expect(parsed.eventName).toBe('Tag Push Hook');
      expect(parsed.drafts).toEqual([
        {
          kind: 'push',
          repository: 'jsmith/example',
          changes: [{ ref: 'refs/tags/v1.0.0', before: '0'.repeat(40), after: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7' }],
          defaultBranch: 'refs/heads/master',
        },
      ]);
    });

    it('falls back to X-Gitlab-Event-UUID for the delivery id when there is no Idempotency-Key', () => {
      const parsed = parseWebhook(withHeaders(sample('gitlab-push'), { 'idempotency-key': undefined }), policy());
      expect(parsed.deliveryId).toBe('13792a34-cac6-4fda-95a8-c58e00a3954e');
    });

    it('accepts a body of exactly maxBodyBytes', () => {
      const request = sample('gitlab-push');
      expect(parseWebhook(request, policy({ maxBodyBytes: request.body.length })).drafts).toHaveLength(1);
    });
  });

  describe('authentication', () => {
    it('a missing X-Gitlab-Token is 401', () => {
      const error = failure(sample('gitlab-push', null), policy(), AuthenticationError, 401);
      expect(error.code).toBe('ERR_UNAUTHENTICATED');
    });

    it('an empty X-Gitlab-Token is 401', () => {
      failure(sample('gitlab-push', ''), policy(), AuthenticationError, 401);
    });

    it('a wrong X-Gitlab-Token is 401', () => {
      failure(sample('gitlab-push', 'TOKEN'), policy(), AuthenticationError, 401);
      failure(sample('gitlab-push', `${SECRET} `), policy(), AuthenticationError, 401);
      failure(sample('gitlab-push', SECRET.slice(0, -1)), policy(), AuthenticationError, 401);
    });

    it('is checked before the body is parsed: malformed JSON with a wrong token is 401, not 400', () => {
      failure(withBody(sample('gitlab-push', 'wrong'), '{not json'), policy(), AuthenticationError, 401);
    });

    it('the error never echoes the secret or the token sent', () => {
      const error = failure(sample('gitlab-push', 'a-token-that-is-wrong'), policy(), AuthenticationError, 401);
      const shown = JSON.stringify(error.toJSON());
      expect(shown).not.toContain(SECRET);
      expect(shown).not.toContain('a-token-that-is-wrong');
    });
  });

  describe('malformed or unsupported requests', () => {
    it('malformed JSON with a valid token is a 400 ValidationError', () => {
      const error = failure(withBody(sample('gitlab-push'), '{"object_kind": "push",'), policy(), ValidationError, 400);
      expect(error.code).toBe('ERR_VALIDATION');
    });

    it.each([
      ['an array', '[]'],
      ['a string', '"push"'],
      ['null', 'null'],
      ['an object without the push fields', '{"object_kind":"push"}'],
    ])('JSON that is %s is a 400 ValidationError', (_label, body) => {
      failure(withBody(sample('gitlab-push'), body), policy(), ValidationError, 400);
    });

    it('an X-Gitlab-Event that needs no replication is ignored, with nothing to record', () => {
      // Accepted and ignored, not refused: GitLab disables a webhook that answers 4xx, push events included.
      const parsed = parseWebhook(withHeaders(sample('gitlab-push'), { 'x-gitlab-event': 'Issue Hook' }), policy());
      expect(parsed.drafts).toEqual([]);
      expect(parsed.ignored).toContain('Issue Hook');
    });

    it('a request with no vendor headers at all is a 400', () => {
      const request: WebhookRequest = { headers: { 'content-type': 'application/json' }, body: sample('gitlab-push').body };
      const error = failure(request, policy(), UnsupportedEventError, 400);
      expect(error.code).toBe('ERR_UNSUPPORTED_EVENT');
    });

    it('a body over maxBodyBytes is a 413, checked before authentication and before the host is recognised', () => {
      const request = sample('gitlab-push');
      const limit = request.body.length - 1;
      const error = failure(request, policy({ maxBodyBytes: limit }), PayloadTooLargeError, 413);
      expect(error.code).toBe('ERR_PAYLOAD_TOO_LARGE');
      expect(error.data).toEqual({ bytes: request.body.length, limit });
      failure(sample('gitlab-push', null), policy({ maxBodyBytes: limit }), PayloadTooLargeError, 413);
      failure(sample('gitlab-push', 'wrong'), policy({ maxBodyBytes: limit }), PayloadTooLargeError, 413);
      failure({ headers: {}, body: request.body }, policy({ maxBodyBytes: limit }), PayloadTooLargeError, 413);
    });
  });

  describe('trusted hosts', () => {
    it('a payload naming a host that is not a configured primary is a 422 UntrustedHostError', () => {
      const error = failure(sample('gitlab-push'), policy({ primaryHosts: primaryHostsOf(['https://gitlab.example.org']) }), UntrustedHostError, 422);
      expect(error.code).toBe('ERR_UNTRUSTED_HOST');
      expect(error.data).toEqual({ host: 'example.com' });
    });

    it('the same payload passes once its host is configured', () => {
      const trust = primaryHostsOf(['https://gitlab.example.org', 'https://EXAMPLE.com/', 'https://gitlab.com']);
      expect(parseWebhook(sample('gitlab-push'), policy({ primaryHosts: trust })).drafts).toHaveLength(1);
      expect(parseWebhook(sample('gitlab-tag-push'), policy({ primaryHosts: trust })).drafts).toHaveLength(1);
    });

    it('a port is part of the host', () => {
      failure(sample('gitlab-push'), policy({ primaryHosts: primaryHostsOf(['https://example.com:8443']) }), UntrustedHostError, 422);
    });

    it('rejects a git_http_url pointing elsewhere even when web_url is trusted', () => {
      const request = editedPayload(sample('gitlab-push'), (json) => {
        json.project.git_http_url = 'http://169.254.169.254/latest/meta-data.git';
      });
      const error = failure(request, policy(), UntrustedHostError, 422);
      expect(error.data).toEqual({ host: '169.254.169.254' });
    });

    it('rejects a lookalike host', () => {
      const request = editedPayload(sample('gitlab-push'), (json) => {
        json.project.git_http_url = 'http://example.com.evil.test/mike/diaspora.git';
      });
      failure(request, policy(), UntrustedHostError, 422);
    });
  });

  describe('hostile repository paths', () => {
    it.each(['../etc', 'a/../../b', '/etc/passwd', 'mike/diaspora\n', 'a//b', '-upload-pack=evil', 'a.git/b'])(
      'path_with_namespace %j is a 400 ValidationError',
      (hostile) => {
        const request = editedPayload(sample('gitlab-push'), (json) => {
          json.project.path_with_namespace = hostile;
        });
        failure(request, policy(), ValidationError, 400);
      },
    );

    it('a non-string path_with_namespace is a 400 ValidationError', () => {
      const request = editedPayload(sample('gitlab-push'), (json) => {
        json.project.path_with_namespace = ['mike', 'diaspora'];
      });
      failure(request, policy(), ValidationError, 400);
    });

    it('a hostile ref or object id is a 400 ValidationError', () => {
      const badRef = editedPayload(sample('gitlab-push'), (json) => {
        json.ref = 'refs/heads/../../config';
      });
      failure(badRef, policy(), ValidationError, 400);
      const badOid = editedPayload(sample('gitlab-push'), (json) => {
        json.after = 'HEAD';
      });
      failure(badOid, policy(), ValidationError, 400);
    });
  });
});
