import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * Writes a repository of about `mib` MiB of incompressible blobs (random data, 1 MiB each, 32 per
 * commit) with `git fast-import`: a pack as big as asked, generated in about a minute per GiB.
 * Random blobs neither compress nor deltify, so the pack is as large as its content.
 */
export async function generateBigRepository(gitDir: string, mib: number): Promise<void> {
  const child = spawn('git', ['fast-import', '--quiet', '--done'], { cwd: gitDir, stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, GIT_DIR: gitDir } });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const write = (data: string | Buffer): Promise<void> => new Promise((resolve) => (child.stdin.write(data) ? resolve() : child.stdin.once('drain', resolve)));
  const perCommit = 32;
  for (let blob = 0, commit = 0; blob < mib; commit++) {
    const message = `add blobs ${blob} to ${Math.min(mib, blob + perCommit) - 1}\n`;
    await write(`commit refs/heads/main\ncommitter git-geo bench <bench@git-geo.example> ${1_700_000_000 + commit * 600} +0000\ndata ${Buffer.byteLength(message)}\n${message}`);
    for (let i = 0; i < perCommit && blob < mib; i++, blob++) {
      await write(`M 100644 inline data/blob-${blob}.bin\ndata ${2 ** 20}\n`);
      await write(randomBytes(2 ** 20));
      await write('\n');
    }
    await write('\n');
  }
  await write('done\n');
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${stderr}`);
}
