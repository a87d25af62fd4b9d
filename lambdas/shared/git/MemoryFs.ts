import { posix } from 'node:path';

class FsError extends Error {
  constructor(
    readonly code: string,
    path: string,
  ) {
    super(`${code}: ${path}`);
  }
}

/** Node's normalization, and no trailing slash (but '/' stays '/'), as fs treats `dir/` like `dir`. */
function normalize(path: string): string {
  const normalized = posix.normalize(path);
  return normalized.length > 1 ? normalized.replace(/\/+$/, '') : normalized;
}

/** Turns a synchronous throw (a bad argument, say) into a rejected promise. */
function rejecting<Args extends unknown[], Result>(method: (...args: Args) => Promise<Result>): (...args: Args) => Promise<Result> {
  return (...args) => {
    try {
      return method(...args);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };
}

interface Stats {
  readonly type: 'file' | 'dir';
  readonly mode: number;
  readonly size: number;
  readonly ino: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly uid: number;
  readonly gid: number;
  readonly dev: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * The file system isomorphic-git runs on during a sync: entirely in memory, so a fetch
 * costs no storage round trips. Whatever it writes is read back and published by the
 * caller in a safe order. Errors carry Node's codes (ENOENT, EEXIST, ...), as isomorphic-git expects.
 */
export class MemoryFs {
  private readonly files = new Map<string, Buffer>();
  private readonly dirs = new Set<string>(['/']);

  // Every method is async: isomorphic-git probes `readFile()` with no arguments and takes a
  // synchronous throw to mean a callback-style fs.
  readonly promises = {
    readFile: rejecting(async (path: string, options?: { encoding?: string } | string): Promise<Buffer | string> => {
      await Promise.resolve();
      const data = this.files.get(normalize(path));
      if (data === undefined) return Promise.reject(new FsError('ENOENT', path));
      const encoding = typeof options === 'string' ? options : options?.encoding;
      return Promise.resolve(encoding === 'utf8' ? data.toString('utf8') : data);
    }),
    writeFile: rejecting((path: string, data: Uint8Array | string): Promise<void> => {
      const normalized = normalize(path);
      if (!this.dirs.has(posix.dirname(normalized))) return Promise.reject(new FsError('ENOENT', path));
      this.files.set(normalized, Buffer.from(data));
      return Promise.resolve();
    }),
    unlink: rejecting((path: string): Promise<void> => {
      if (!this.files.delete(normalize(path))) return Promise.reject(new FsError('ENOENT', path));
      return Promise.resolve();
    }),
    readdir: rejecting((path: string): Promise<string[]> => {
      const dir = normalize(path);
      if (!this.dirs.has(dir)) return Promise.reject(new FsError('ENOENT', path));
      const names = new Set<string>();
      for (const entry of [...this.files.keys(), ...this.dirs]) {
        if (entry !== dir && posix.dirname(entry) === dir) names.add(posix.basename(entry));
      }
      return Promise.resolve([...names].sort());
    }),
    mkdir: rejecting((path: string): Promise<void> => {
      const dir = normalize(path);
      if (this.dirs.has(dir) || this.files.has(dir)) return Promise.reject(new FsError('EEXIST', path));
      if (!this.dirs.has(posix.dirname(dir))) return Promise.reject(new FsError('ENOENT', path));
      this.dirs.add(dir);
      return Promise.resolve();
    }),
    rmdir: rejecting((path: string): Promise<void> => {
      const dir = normalize(path);
      if (!this.dirs.has(dir)) return Promise.reject(new FsError('ENOENT', path));
      const busy = [...this.files.keys(), ...this.dirs].some((entry) => entry !== dir && entry.startsWith(`${dir}/`));
      if (busy) return Promise.reject(new FsError('ENOTEMPTY', path));
      this.dirs.delete(dir);
      return Promise.resolve();
    }),
    stat: rejecting((path: string): Promise<Stats> => this.stat(path)),
    lstat: rejecting((path: string): Promise<Stats> => this.stat(path)),
    readlink: rejecting((path: string): Promise<never> => Promise.reject(new FsError('ENOENT', path))),
    symlink: rejecting((_target: string, path: string): Promise<never> => Promise.reject(new FsError('EPERM', path))),
    chmod: rejecting((): Promise<void> => Promise.resolve()),
  };

  /** Every file under `dir`, by path. */
  filesUnder(dir: string): Map<string, Buffer> {
    const prefix = normalize(dir).replace(/\/?$/, '/');
    return new Map([...this.files].filter(([path]) => path.startsWith(prefix)));
  }

  private stat(path: string): Promise<Stats> {
    const normalized = normalize(path);
    const file = this.files.get(normalized);
    const isDir = this.dirs.has(normalized);
    if (file === undefined && !isDir) return Promise.reject(new FsError('ENOENT', path));
    const type = isDir ? 'dir' : 'file';
    return Promise.resolve({
      type,
      mode: isDir ? 0o40755 : 0o100644,
      size: file?.length ?? 0,
      ino: 0,
      mtimeMs: 0,
      ctimeMs: 0,
      uid: 0,
      gid: 0,
      dev: 0,
      isFile: () => !isDir,
      isDirectory: () => isDir,
      isSymbolicLink: () => false,
    });
  }
}
