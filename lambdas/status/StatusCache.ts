/**
 * The assembled status, kept for a short time and shared by every request in that time: a page
 * reloading itself in many browsers, or one operator reloading by hand, costs the regions one
 * read of their registries per `ttlMs`, not one per reload. Requests that arrive while a read is
 * under way wait for that read instead of starting their own.
 */
export class StatusCache<T> {
  private current: { readonly value: Promise<T>; readonly until: number } | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The value read at most `ttlMs` ago, or `read()`'s (a failed read is not kept). */
  async get(read: () => Promise<T>): Promise<T> {
    const cached = this.current;
    if (cached !== undefined && cached.until > this.now()) return await cached.value;
    const value = read();
    const entry = { value, until: this.now() + this.ttlMs };
    this.current = entry;
    try {
      return await value;
    } catch (error) {
      if (this.current === entry) this.current = undefined;
      throw error;
    }
  }
}

/**
 * How long the status is kept: half a refresh, so whatever is recorded shows on the next reload
 * but one at the latest, and never more than 10 s.
 */
export function statusCacheMs(refreshSeconds: number): number {
  return Math.min(10_000, Math.max(1000, (refreshSeconds * 1000) / 2));
}
