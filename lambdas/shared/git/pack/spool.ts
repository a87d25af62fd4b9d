import { randomUUID } from 'node:crypto';
import { readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SpoolFullError } from '../../errors/index.ts';

const SPOOL_FILE = /^git-geo-[a-z]+-[0-9a-f-]{36}\.pack$/;
/** A spool file untouched this long belongs to an invocation that was killed (Lambda reuses /tmp). */
const STALE_MS = 20 * 60_000;

/**
 * A fresh local path to spool a pack to, after removing spool files a killed invocation left
 * in the same directory (a reused Lambda container keeps its /tmp).
 */
export async function spoolPath(kind: 'fetch' | 'repack', dir = tmpdir()): Promise<string> {
  const now = Date.now();
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!SPOOL_FILE.test(name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info !== undefined && now - info.mtimeMs > STALE_MS) await rm(path, { force: true });
  }
  return join(dir, `git-geo-${kind}-${randomUUID()}.pack`);
}

/** A disk-full failure while spooling becomes a clear error naming the limit; anything else is rethrown. */
export function spoolError(error: unknown, path: string, bytes: number): unknown {
  if ((error as { code?: string }).code !== 'ENOSPC') return error;
  return new SpoolFullError(`the pack did not fit the local disk after ${bytes} bytes (${path}); raise syncEphemeralStorageMiB (Lambda /tmp, at most 10,240 MiB)`, {
    cause: error,
    data: { path, bytes },
  });
}
