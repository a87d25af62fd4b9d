/**
 * Polls `probe` until it answers something other than undefined, and answers that; fails with
 * `describe()`'s account of the last state after `timeoutMs`. Timeouts are generous: the machine is shared.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> | string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      const state = options.describe ? await options.describe() : '';
      throw new Error(`condition not met within ${options.timeoutMs ?? 60_000} ms${state ? `:\n${state}` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 150));
  }
}
