import * as z from 'zod';
import type { ChangeDraftInput, ChangeSource } from '../../shared/events/ChangeEvent.ts';
import { AuthenticationError } from '../../shared/errors/index.ts';
import { ZERO_OID } from '../../shared/git/refName.ts';
import { hmacSha256Matches } from '../secureCompare.ts';
import { assertTrustedUrls } from '../trustedHosts.ts';
import { deliveryId } from './deliveryId.ts';
import { fullRefName } from './fullRefName.ts';
import { parseWith } from './parseWith.ts';
import type { ParsedWebhook, TrustPolicy, WebhookSource } from './WebhookSource.ts';

const Repository = z.object({
  full_name: z.string(),
  default_branch: z.string().nullish(),
  html_url: z.string().nullish(),
  clone_url: z.string().nullish(),
  ssh_url: z.string().nullish(),
});
type Repository = z.infer<typeof Repository>;

// The deprecated `secret` body field of older Gitea versions is never read: only the signature header authenticates.
const Push = z.object({ ref: z.string(), before: z.string(), after: z.string(), repository: Repository });
const Create = z.object({ ref: z.string(), ref_type: z.enum(['branch', 'tag']), sha: z.string().optional(), repository: Repository });
const Delete = z.object({ ref: z.string(), ref_type: z.enum(['branch', 'tag']), repository: Repository });
const RepositoryEvent = z.object({ action: z.string().max(100), repository: Repository });

type Parsed = Pick<ParsedWebhook, 'drafts' | 'ignored'>;

function trusted(repository: Repository, policy: TrustPolicy): Repository {
  assertTrustedUrls([repository.html_url, repository.clone_url, repository.ssh_url], policy);
  return repository;
}

function defaultBranch(repository: Repository): Partial<ChangeDraftInput> {
  return repository.default_branch ? { defaultBranch: `refs/heads/${repository.default_branch}` } : {};
}

function parseEvent(vendor: string, event: string, json: unknown, policy: TrustPolicy): Parsed {
  switch (event) {
    case 'push': {
      const hook = parseWith(Push, json, `${vendor} push`);
      const repository = trusted(hook.repository, policy);
      return { drafts: [{ kind: 'push', repository: repository.full_name, changes: [{ ref: hook.ref, before: hook.before, after: hook.after }], ...defaultBranch(repository) }] };
    }
    case 'create': {
      const hook = parseWith(Create, json, `${vendor} create`);
      const repository = trusted(hook.repository, policy);
      const changes = hook.sha ? [{ ref: fullRefName(hook.ref, hook.ref_type), before: ZERO_OID, after: hook.sha }] : [];
      return { drafts: [{ kind: 'push', repository: repository.full_name, changes, ...defaultBranch(repository) }] };
    }
    case 'delete': {
      // No object id of what was deleted: the sync reads the primary's refs.
      const hook = parseWith(Delete, json, `${vendor} delete`);
      const repository = trusted(hook.repository, policy);
      return { drafts: [{ kind: 'push', repository: repository.full_name, ...defaultBranch(repository) }] };
    }
    case 'repository': {
      const hook = parseWith(RepositoryEvent, json, `${vendor} repository`);
      const repository = trusted(hook.repository, policy);
      if (hook.action === 'created') return { drafts: [{ kind: 'repository.created', repository: repository.full_name, ...defaultBranch(repository) }] };
      if (hook.action === 'deleted') return { drafts: [{ kind: 'repository.deleted', repository: repository.full_name }] };
      return { drafts: [], ignored: `${vendor} repository "${hook.action}" needs no replication` };
    }
    default:
      return { drafts: [], ignored: `${vendor} "${event}" events need no replication` };
  }
}

/**
 * A Gitea-family host: Gitea itself, or Forgejo, which sends the same payloads under its own
 * header names as well as Gitea's. `prefix` is the vendor's header prefix (`x-gitea`, `x-forgejo`);
 * `signatureHeaders` its bare-hex signature headers, most specific first.
 */
export function giteaFamily(name: ChangeSource, vendor: string, prefix: string, signatureHeaders: readonly string[]): WebhookSource {
  return {
    name,
    matches: (headers) => headers[`${prefix}-event`] !== undefined,
    authenticate: (request, secret) => verifyGiteaSignature(request.headers, request.body, secret, vendor, signatureHeaders),
    parse(json, request, policy) {
      const event = (request.headers[`${prefix}-event`] ?? '').slice(0, 100);
      return { source: name, deliveryId: deliveryId(request, [`${prefix}-delivery`, 'x-gitea-delivery']), eventName: event, ...parseEvent(vendor, event, json, policy) };
    },
  };
}

/**
 * Verifies a Gitea-family signature: the vendor's own bare-hex header (`X-Forgejo-Signature`,
 * `X-Gitea-Signature`) when present, else `X-Hub-Signature-256` (`sha256=<hex>`), which both send
 * too. A header that is present but wrong is never skipped in favour of another.
 */
function verifyGiteaSignature(headers: Readonly<Record<string, string | undefined>>, body: Buffer, secret: string, vendor: string, bareHeaders: readonly string[]): void {
  for (const name of bareHeaders) {
    const value = headers[name];
    if (value === undefined) continue;
    if (value.trim() === '') throw new AuthenticationError(`${vendor} sent an empty ${name}: set a secret on the webhook`);
    if (!/^[0-9a-fA-F]+$/.test(value.trim()) || !hmacSha256Matches(secret, body, value)) {
      throw new AuthenticationError(`${name} does not match the body signed with the webhook secret`);
    }
    return;
  }
  const hub = headers['x-hub-signature-256'];
  const match = hub === undefined ? null : /^sha256=([0-9a-fA-F]+)$/.exec(hub.trim());
  if (hub === undefined || hub.trim() === '') throw new AuthenticationError(`missing ${vendor} signature header: set a secret on the webhook`);
  if (match?.[1] === undefined || !hmacSha256Matches(secret, body, match[1])) {
    throw new AuthenticationError('X-Hub-Signature-256 does not match the body signed with the webhook secret');
  }
}

/** Gitea webhooks: push, create, delete and repository. Signed with `X-Gitea-Signature`; deduplicated by `X-Gitea-Delivery`. */
export const gitea: WebhookSource = giteaFamily('gitea', 'Gitea', 'x-gitea', ['x-gitea-signature']);
