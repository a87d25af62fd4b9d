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
      const parsed = new URL(url);
      // SSH and git:// daemons listen on their own ports: for them the host name is what must match.
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
        const name = parsed.hostname.toLowerCase();
        if ([...trust.primaryHosts].some((primary) => primary.replace(/:\d+$/, '') === name)) continue;
        throw new UntrustedHostError(`payload names host ${name}, which is not a configured primary`, { data: { host: name } });
      }
      host = parsed.host.toLowerCase();
    } catch (error) {
      if (error instanceof UntrustedHostError) throw error;
      // scp-like SSH URLs (git@host:group/project.git) name a host too.
      const scp = /^[^@\s]+@([^:\s]+):/.exec(url);
      if (scp?.[1] === undefined) throw new UntrustedHostError('payload has a repository URL that cannot be parsed');
      host = scp[1].toLowerCase();
      if ([...trust.primaryHosts].some((primary) => primary.replace(/:\d+$/, '') === host)) continue;
      throw new UntrustedHostError(`payload names host ${host}, which is not a configured primary`, { data: { host } });
    }
    if (!trust.primaryHosts.has(host)) {
      throw new UntrustedHostError(`payload names host ${host}, which is not a configured primary`, { data: { host } });
    }
  }
}
