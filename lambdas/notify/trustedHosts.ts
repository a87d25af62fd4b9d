import { UntrustedHostError } from '../shared/errors/index.ts';
import type { TrustPolicy } from './hosts/WebhookSource.ts';

/** `host[:port]` of each base URL, lower case, default ports dropped. */
export function primaryHostsOf(urls: readonly string[]): Set<string> {
  return new Set(urls.map((url) => new URL(url).host.toLowerCase()));
}

/**
 * Refuses a payload whose repository URLs name a host other than a configured primary.
 * git-geo never fetches from a payload's URL; this stops a confused or hostile sender
 * from making the pipeline record changes for a host it does not replicate.
 */
export function assertTrustedUrls(urls: readonly unknown[], trust: TrustPolicy): void {
  for (const url of urls) {
    if (typeof url !== 'string' || url.length === 0) continue;
    let host: string;
    try {
      host = new URL(url).host.toLowerCase();
    } catch {
      // scp-like SSH URLs (git@host:group/project.git) name a host too.
      const scp = /^[^@\s]+@([^:\s]+):/.exec(url);
      if (scp?.[1] === undefined) throw new UntrustedHostError('payload has a repository URL that cannot be parsed');
      host = scp[1].toLowerCase();
      if ([...trust.primaryHosts].some((primary) => primary.split(':')[0] === host)) continue;
      throw new UntrustedHostError(`payload names host ${host}, which is not a configured primary`, { data: { host } });
    }
    if (!trust.primaryHosts.has(host)) {
      throw new UntrustedHostError(`payload names host ${host}, which is not a configured primary`, { data: { host } });
    }
  }
}
