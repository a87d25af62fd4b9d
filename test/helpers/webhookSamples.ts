import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { genericSignature } from '../../lambdas/notify/hosts/generic.ts';

/** A JSON payload as tests edit it: vendor payloads are deep and loosely typed. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;

/** A delivery: header names in lower case, as Function URLs deliver them, and the raw body. */
export interface Delivery {
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export type SampleName =
  | 'gitlab-push'
  | 'gitlab-tag-push'
  | 'gitlab-system-repository-update'
  | 'gitlab-system-push'
  | 'gitlab-system-tag-push'
  | 'gitlab-system-project-create'
  | 'gitlab-system-project-destroy'
  | 'gitlab-system-project-rename'
  | 'gitlab-system-project-transfer'
  | 'github-push'
  | 'github-push-new-branch'
  | 'github-push-tag-deleted'
  | 'github-create'
  | 'github-delete'
  | 'github-repository-renamed'
  | 'gitea-push';

function fixture(name: string): Buffer {
  return readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url));
}

/** A vendor's documented sample, byte for byte, with its placeholder token and signatures still in place. */
export function sample(name: SampleName): Delivery {
  const raw = JSON.parse(fixture(`${name}.headers.json`).toString('utf8')) as Record<string, string>;
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) headers[key.toLowerCase()] = value;
  return { headers, body: fixture(`${name}.json`) };
}

/** The same delivery as Forgejo sends it: Gitea's headers plus its own `X-Forgejo-*` ones. */
export function asForgejo(delivery: Delivery): Delivery {
  const headers = { ...delivery.headers };
  headers['x-forgejo-event'] = headers['x-gitea-event'] ?? 'push';
  headers['x-forgejo-event-type'] = headers['x-gitea-event-type'] ?? headers['x-forgejo-event'];
  headers['x-forgejo-delivery'] = headers['x-gitea-delivery'] ?? crypto.randomUUID();
  headers['x-forgejo-signature'] = 'SIGNATURE';
  return { headers, body: delivery.body };
}

/**
 * Fills the placeholders as the vendor would with `secret`: GitLab's plain token, and every
 * HMAC header computed over the exact body bytes (`sha256=`/`sha1=` prefixes where the vendor uses them).
 */
export function signed(delivery: Delivery, secret: string): Delivery {
  const hex = (algorithm: 'sha256' | 'sha1'): string => createHmac(algorithm, secret).update(delivery.body).digest('hex');
  const headers = { ...delivery.headers };
  for (const name of Object.keys(headers)) {
    if (headers[name] === 'TOKEN') headers[name] = secret;
    if (headers[name] !== 'SIGNATURE') continue;
    if (name === 'x-hub-signature-256') headers[name] = `sha256=${hex('sha256')}`;
    else if (name === 'x-hub-signature') headers[name] = `sha1=${hex('sha1')}`;
    else headers[name] = hex('sha256');
  }
  return { headers, body: delivery.body };
}

/** The delivery with its JSON body edited (re-serialized; sign it afterwards). */
export function edited(delivery: Delivery, edit: (json: JsonObject) => void): Delivery {
  const json = JSON.parse(delivery.body.toString('utf8')) as JsonObject;
  edit(json);
  return { headers: delivery.headers, body: Buffer.from(JSON.stringify(json)) };
}

/** The delivery with headers changed (undefined removes one). */
export function withHeaders(delivery: Delivery, change: Record<string, string | undefined>): Delivery {
  const headers = { ...delivery.headers };
  for (const [name, value] of Object.entries(change)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { headers, body: delivery.body };
}

/**
 * Points a vendor sample at another repository on another host: every occurrence of the sample's
 * repository path and of its host's URLs (https, http, git://, ssh and scp forms) is replaced, so
 * the payload keeps the vendor's shape and names only the new repository and host.
 */
export function retargeted(delivery: Delivery, from: { host: string; repository: string }, to: { baseUrl: string; repository: string }): Delivery {
  const base = new URL(to.baseUrl);
  const hostname = from.host.replace(/:\d+$/, '').replace(/\./g, '\\.');
  let text = delivery.body.toString('utf8');
  text = text.replaceAll(from.repository, to.repository);
  text = text.replace(new RegExp(`(https?|git)://([^/"@]+@)?${hostname}(:\\d+)?`, 'g'), `${base.protocol}//${base.host}`);
  text = text.replace(new RegExp(`ssh://([^/"@]+@)?${hostname}(:\\d+)?`, 'g'), `ssh://git@${base.hostname}`);
  text = text.replace(new RegExp(`@${hostname}:`, 'g'), `@${base.hostname}:`);
  return { headers: delivery.headers, body: Buffer.from(text) };
}

/** A delivery in git-geo's generic format, signed with `secret` at `timestamp` (unix seconds). */
export function genericDelivery(options: {
  secret: string;
  event: string;
  body: Record<string, unknown>;
  delivery?: string;
  timestamp?: number;
}): Delivery {
  const body = Buffer.from(JSON.stringify(options.body));
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  return {
    headers: {
      'content-type': 'application/json',
      'x-git-geo-event': options.event,
      'x-git-geo-delivery': options.delivery ?? crypto.randomUUID(),
      'x-git-geo-timestamp': timestamp,
      'x-git-geo-signature-256': genericSignature(options.secret, timestamp, body),
    },
    body,
  };
}

/** POSTs a delivery to the webhook URL; answers the status and the parsed JSON body. */
export async function deliver(url: string, delivery: Delivery): Promise<{ status: number; body: JsonObject }> {
  const response = await fetch(url, { method: 'POST', headers: delivery.headers, body: delivery.body });
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as JsonObject };
  } catch {
    return { status: response.status, body: { text } };
  }
}
