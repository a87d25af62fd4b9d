import { createHmac, randomBytes } from 'node:crypto';
import type { PrimaryAccess, PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import type { RepositoryPath } from '../shared/repositoryPath.ts';

export interface AccessCheckerOptions {
  /** How long the primary's yes is trusted. */
  readonly allowedTtlMs: number;
  /** How long a refusal is remembered; shorter, so a fixed password works again soon. */
  readonly deniedTtlMs: number;
  /** Entries kept per instance; the oldest go first. */
  readonly maxEntries?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly access: PrimaryAccess;
  readonly expiresAt: number;
}

/**
 * Asks the primary whether a caller's credentials (or none) may read a repository, and
 * remembers the answer briefly. Cache keys are an HMAC, under a key that lives only in this
 * instance's memory, of the credentials and the repository: the credentials themselves are
 * never stored, logged or compared outside the primary. An unreachable primary throws and
 * nothing is cached, so the endpoint fails closed.
 */
export class AccessChecker {
  private readonly cache = new Map<string, Entry>();
  private readonly key = randomBytes(32);
  private readonly maxEntries: number;
  private readonly now: () => number;
  private primaryChecks = 0;

  constructor(
    private readonly primary: PrimaryRemote,
    private readonly options: AccessCheckerOptions,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  /** How many times the primary was asked (not the cache). */
  get checks(): number {
    return this.primaryChecks;
  }

  async check(repository: RepositoryPath, authorization: string | undefined): Promise<PrimaryAccess> {
    const cacheKey = createHmac('sha256', this.key).update(`${authorization ?? ''}\n${repository}`).digest('base64url');
    const cached = this.cache.get(cacheKey);
    const now = this.now();
    if (cached !== undefined && cached.expiresAt > now) return cached.access;
    this.cache.delete(cacheKey);
    this.primaryChecks++;
    const access = await this.primary.withAuthorization(authorization).access(repository);
    const ttl = access === 'allowed' ? this.options.allowedTtlMs : this.options.deniedTtlMs;
    if (ttl > 0) {
      while (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(cacheKey, { access, expiresAt: now + ttl });
    }
    return access;
  }
}
