/**
 * A token bucket: at most `burst` tokens at once, refilled at `ratePerSecond`. `take` waits
 * until enough tokens are there, so whatever spends them never goes faster than the rate
 * (plus the burst) over any window.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    private readonly clock: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    if (!(ratePerSecond > 0) || !(burst >= 1)) throw new RangeError('a token bucket needs a positive rate and a burst of at least 1');
    this.tokens = burst;
    this.last = clock();
  }

  /** Waits for `count` tokens (at most the burst) and spends them. */
  async take(count = 1): Promise<void> {
    const needed = Math.min(count, this.burst);
    for (;;) {
      const now = this.clock();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
      this.last = now;
      if (this.tokens >= needed) {
        this.tokens -= needed;
        return;
      }
      await this.sleep(Math.ceil(((needed - this.tokens) / this.ratePerSecond) * 1000));
    }
  }
}
