import { spawn } from 'node:child_process';

export interface NewObjects {
  readonly count: number;
  /** Their size uncompressed, as git counts it. */
  readonly bytes: number;
}

/** The objects reachable from `after` and not from `before` in a repository, and their size. */
export async function newObjects(gitDir: string, after: string, before: string | undefined): Promise<NewObjects> {
  const revList = spawn('git', ['rev-list', '--objects', after, ...(before ? [`^${before}`] : [])], { cwd: gitDir, stdio: ['ignore', 'pipe', 'inherit'] });
  const catFile = spawn('git', ['cat-file', '--batch-check=%(objectsize)'], { cwd: gitDir, stdio: ['pipe', 'pipe', 'inherit'] });
  let pending = '';
  revList.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    // rev-list prints `<oid> [path]`; cat-file wants the oid alone.
    catFile.stdin.write(lines.map((line) => line.slice(0, 40)).join('\n') + (lines.length > 0 ? '\n' : ''));
  });
  revList.stdout.once('end', () => catFile.stdin.end(pending ? `${pending.slice(0, 40)}\n` : ''));
  let output = '';
  catFile.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  await Promise.all([new Promise((resolve) => revList.once('close', resolve)), new Promise((resolve) => catFile.once('close', resolve))]);
  const sizes = output.split('\n').filter(Boolean).map(Number);
  return { count: sizes.length, bytes: sizes.reduce((total, size) => total + size, 0) };
}
