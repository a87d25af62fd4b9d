import { describe, expect, it } from '@jest/globals';
import { MemoryFs } from '../../lambdas/shared/git/MemoryFs.ts';

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as { code?: string }).code;
  }
  throw new Error('the promise resolved');
}

describe('MemoryFs', () => {
  it('writes and reads back bytes, and utf8 text when asked', async () => {
    const fs = new MemoryFs();
    await fs.promises.writeFile('/HEAD', 'ref: refs/heads/main\n');
    const bytes = await fs.promises.readFile('/HEAD');
    expect(Buffer.isBuffer(bytes)).toBe(true);
    expect((bytes as Buffer).toString('utf8')).toBe('ref: refs/heads/main\n');
    expect(await fs.promises.readFile('/HEAD', 'utf8')).toBe('ref: refs/heads/main\n');
    expect(await fs.promises.readFile('/HEAD', { encoding: 'utf8' })).toBe('ref: refs/heads/main\n');
  });

  it('round-trips binary data exactly, and a later write replaces an earlier one', async () => {
    const fs = new MemoryFs();
    const data = new Uint8Array([0, 1, 254, 255, 10]);
    await fs.promises.writeFile('/blob', data);
    expect(Buffer.compare((await fs.promises.readFile('/blob')) as Buffer, Buffer.from(data))).toBe(0);
    await fs.promises.writeFile('/blob', 'x');
    expect(await fs.promises.readFile('/blob', 'utf8')).toBe('x');
  });

  it('keeps its own copy of written data', async () => {
    const fs = new MemoryFs();
    const data = Buffer.from('abc');
    await fs.promises.writeFile('/f', data);
    data[0] = 0x7a;
    expect(await fs.promises.readFile('/f', 'utf8')).toBe('abc');
  });

  it('normalizes paths', async () => {
    const fs = new MemoryFs();
    await fs.promises.mkdir('/repo');
    await fs.promises.writeFile('/repo/./config', 'x');
    expect(await fs.promises.readFile('/repo//config', 'utf8')).toBe('x');
    expect(await fs.promises.readFile('/other/../repo/config', 'utf8')).toBe('x');
  });

  describe('error codes', () => {
    it('ENOENT for a missing file, a write into a missing directory, and a missing unlink/readdir/stat/lstat/rmdir/readlink', async () => {
      const fs = new MemoryFs();
      expect(await codeOf(fs.promises.readFile('/missing'))).toBe('ENOENT');
      expect(await codeOf(fs.promises.writeFile('/no/such/dir/file', 'x'))).toBe('ENOENT');
      expect(await codeOf(fs.promises.unlink('/missing'))).toBe('ENOENT');
      expect(await codeOf(fs.promises.readdir('/missing'))).toBe('ENOENT');
      expect(await codeOf(fs.promises.stat('/missing'))).toBe('ENOENT');
      expect(await codeOf(fs.promises.lstat('/missing'))).toBe('ENOENT');
      expect(await codeOf(fs.promises.rmdir('/missing'))).toBe('ENOENT');
      expect(await codeOf(fs.promises.readlink('/missing'))).toBe('ENOENT');
      expect(await codeOf(fs.promises.mkdir('/a/b'))).toBe('ENOENT');
    });

    it('EEXIST for a directory or file that already exists', async () => {
      const fs = new MemoryFs();
      await fs.promises.mkdir('/objects');
      await fs.promises.writeFile('/config', 'x');
      expect(await codeOf(fs.promises.mkdir('/objects'))).toBe('EEXIST');
      expect(await codeOf(fs.promises.mkdir('/config'))).toBe('EEXIST');
      expect(await codeOf(fs.promises.mkdir('/'))).toBe('EEXIST');
    });

    it('ENOTEMPTY for a directory that holds a file or a directory', async () => {
      const fs = new MemoryFs();
      await fs.promises.mkdir('/a');
      await fs.promises.writeFile('/a/f', 'x');
      expect(await codeOf(fs.promises.rmdir('/a'))).toBe('ENOTEMPTY');
      await fs.promises.unlink('/a/f');
      await fs.promises.mkdir('/a/sub');
      expect(await codeOf(fs.promises.rmdir('/a'))).toBe('ENOTEMPTY');
      await fs.promises.rmdir('/a/sub');
      await fs.promises.rmdir('/a');
      expect(await codeOf(fs.promises.stat('/a'))).toBe('ENOENT');
    });

    it('does not count a sibling with a common prefix as a child', async () => {
      const fs = new MemoryFs();
      await fs.promises.mkdir('/a');
      await fs.promises.mkdir('/ab');
      await fs.promises.writeFile('/ab/f', 'x');
      await expect(fs.promises.rmdir('/a')).resolves.toBeUndefined();
    });

    it('refuses symlinks', async () => {
      const fs = new MemoryFs();
      expect(await codeOf(fs.promises.symlink('/target', '/link'))).toBe('EPERM');
    });
  });

  it('unlink removes the file', async () => {
    const fs = new MemoryFs();
    await fs.promises.writeFile('/f', 'x');
    await fs.promises.unlink('/f');
    expect(await codeOf(fs.promises.readFile('/f'))).toBe('ENOENT');
  });

  it('readdir lists direct children only, files and directories, sorted', async () => {
    const fs = new MemoryFs();
    await fs.promises.mkdir('/repo');
    await fs.promises.mkdir('/repo/refs');
    await fs.promises.mkdir('/repo/refs/heads');
    await fs.promises.writeFile('/repo/refs/heads/main', 'x');
    await fs.promises.writeFile('/repo/config', 'x');
    await fs.promises.writeFile('/repo/HEAD', 'x');
    expect(await fs.promises.readdir('/repo')).toEqual(['HEAD', 'config', 'refs']);
    expect(await fs.promises.readdir('/repo/refs')).toEqual(['heads']);
    expect(await fs.promises.readdir('/')).toEqual(['repo']);
    expect(await fs.promises.readdir('/repo/refs/heads/')).toEqual(['main']);
  });

  it('stat tells files from directories and reports sizes', async () => {
    const fs = new MemoryFs();
    await fs.promises.mkdir('/d');
    await fs.promises.writeFile('/d/f', 'hello');
    const file = await fs.promises.stat('/d/f');
    expect(file.isFile()).toBe(true);
    expect(file.isDirectory()).toBe(false);
    expect(file.isSymbolicLink()).toBe(false);
    expect(file.size).toBe(5);
    expect(file.type).toBe('file');
    const dir = await fs.promises.lstat('/d');
    expect(dir.isDirectory()).toBe(true);
    expect(dir.isFile()).toBe(false);
    expect(dir.type).toBe('dir');
  });

  it('filesUnder answers every file below a directory, not beside it', async () => {
    const fs = new MemoryFs();
    await fs.promises.mkdir('/repo');
    await fs.promises.mkdir('/repo/objects');
    await fs.promises.mkdir('/repository');
    await fs.promises.writeFile('/repo/objects/pack', 'p');
    await fs.promises.writeFile('/repo/HEAD', 'h');
    await fs.promises.writeFile('/repository/HEAD', 'other');
    expect([...fs.filesUnder('/repo').keys()].sort()).toEqual(['/repo/HEAD', '/repo/objects/pack']);
    expect([...fs.filesUnder('/repo/').keys()].sort()).toEqual(['/repo/HEAD', '/repo/objects/pack']);
  });

  describe('every promises method rejects instead of throwing synchronously', () => {
    // isomorphic-git probes readFile() with no arguments: a synchronous throw makes it
    // take the fs for a callback-style one.
    const methods = Object.keys(new MemoryFs().promises) as (keyof MemoryFs['promises'])[];

    it('covers the methods isomorphic-git uses', () => {
      expect(methods.sort()).toEqual(['chmod', 'lstat', 'mkdir', 'readFile', 'readdir', 'readlink', 'rmdir', 'stat', 'symlink', 'unlink', 'writeFile']);
    });

    it.each(methods)('%s(undefined)', async (method) => {
      const fs = new MemoryFs();
      const call = fs.promises[method] as (...args: unknown[]) => unknown;
      let result: unknown;
      expect(() => {
        result = call(undefined, undefined);
      }).not.toThrow();
      expect(result).toBeInstanceOf(Promise);
      // Settles one way or the other; a rejection must not go unhandled.
      await (result as Promise<unknown>).catch(() => undefined);
    });

    it('readFile(undefined) in particular returns a rejected promise', async () => {
      const fs = new MemoryFs();
      const result = fs.promises.readFile(undefined as never);
      expect(result).toBeInstanceOf(Promise);
      await expect(result).rejects.toBeDefined();
    });
  });
});
