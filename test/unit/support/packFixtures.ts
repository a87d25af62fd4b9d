import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isolatedGitEnv } from './isolatedGitEnv.ts';

const execFileAsync = promisify(execFile);

/** A repository made by real git, with a history whose packs hold delta chains. */
export interface PackFixture {
  readonly root: string;
  readonly dir: string;
  /** Runs git in the repository, or in `cwd`. */
  git(args: readonly string[], input?: Buffer | string, cwd?: string): Promise<Buffer>;
  /** The repository's single pack (after `repack -a -d`) and git's own index of it. */
  repackedPack(): Promise<{ name: string; pack: Buffer; idx: Buffer }>;
  /** Asks git to index a pack; answers git's .idx and the pack name it printed. */
  indexWithGit(pack: Buffer): Promise<{ name: string; idx: Buffer }>;
  remove(): Promise<void>;
}

export async function createPackFixture(options: { commits?: number } = {}): Promise<PackFixture> {
  const root = await mkdtemp(join(tmpdir(), 'git-geo-pack-'));
  const dir = join(root, 'repo.git');
  const env = isolatedGitEnv(root);
  const run = (args: readonly string[], input?: Buffer | string, cwd = dir): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const child = spawn('git', [...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
      child.once('error', reject);
      child.once('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`git ${args.join(' ')} failed (${code}): ${err}`))));
      child.stdin.end(input);
    });
  await execFileAsync('git', ['init', '--bare', '-q', '-b', 'main', dir], { env });
  // fast-import: files that grow line by line, so later versions are deltas of earlier ones.
  const files = 6;
  const contents = Array.from({ length: files }, (_, index) => Array.from({ length: 40 }, (__, line) => `file ${index} line ${line} ${'abcdefgh'.repeat(1 + ((index + line) % 5))}`));
  let script = '';
  const commits = options.commits ?? 60;
  for (let i = 0; i < commits; i++) {
    const message = `commit ${i}\n`;
    script += `commit refs/heads/main\nmark :${i + 1}\ncommitter Unit Test <unit@example.com> ${1_700_000_000 + i * 60} +0000\ndata ${message.length}\n${message}`;
    for (const index of [i % files, (i * 7 + 3) % files]) {
      contents[index]!.splice((i * 13) % contents[index]!.length, 0, `change ${i} in file ${index}`);
      const body = `${contents[index]!.join('\n')}\n`;
      script += `M 100644 inline dir${index % 2}/file-${index}.txt\ndata ${Buffer.byteLength(body)}\n${body}`;
    }
    script += '\n';
  }
  // A binary blob bigger than one pkt-line, so entries span packets and chunks.
  const big = Buffer.alloc(200_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24;
  script += `commit refs/heads/main\nmark :${commits + 1}\ncommitter Unit Test <unit@example.com> 1800000000 +0000\ndata 4\nbig\nM 100644 inline big.bin\ndata ${big.length}\n`;
  await run(['fast-import', '--quiet'], Buffer.concat([Buffer.from(script), big, Buffer.from('\n')]));
  await run(['tag', '-a', 'v1', '-m', 'release one', 'main~10']);
  const packDir = join(dir, 'objects', 'pack');
  return {
    root,
    dir,
    git: (args, input, cwd) => run(args, input, cwd),
    async repackedPack() {
      await run(['repack', '-a', '-d', '-q', '--depth=50', '--window=50']);
      const name = (await readdir(packDir)).find((file) => file.endsWith('.pack'))!.slice(0, -'.pack'.length);
      return { name, pack: await readFile(join(packDir, `${name}.pack`)), idx: await readFile(join(packDir, `${name}.idx`)) };
    },
    async indexWithGit(pack) {
      const path = join(root, `check-${Date.now()}-${Math.random().toString(36).slice(2)}.pack`);
      await writeFile(path, pack);
      const name = (await run(['index-pack', path], undefined, root)).toString().trim();
      return { name: `pack-${name}`, idx: await readFile(path.replace(/\.pack$/, '.idx')) };
    },
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

/** Feeds a buffer to `write` in chunks of the given sizes, cycling through them. */
export function feed(buffer: Buffer, sizes: readonly number[], write: (chunk: Buffer) => void): void {
  let offset = 0;
  for (let i = 0; offset < buffer.length; i++) {
    const size = sizes[i % sizes.length]!;
    write(buffer.subarray(offset, offset + size));
    offset += size;
  }
}
