import { spawn } from 'node:child_process';

export interface GeneratedHistory {
  readonly commits: number;
  readonly files: number;
}

/**
 * Writes a repository history with `git fast-import`: `commits` commits on `branch`, each
 * editing a few of `files` source-like files, so packs hold realistic deltas. Thousands of
 * commits take a second or two. The target must be an existing repository (bare or not).
 */
export async function generateRepository(
  gitDir: string,
  options: { commits: number; files?: number; branch?: string; seed?: number; startAt?: number; parent?: string },
): Promise<GeneratedHistory> {
  const files = options.files ?? 40;
  const branch = options.branch ?? 'main';
  let state = options.seed ?? 42;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const contents = Array.from({ length: files }, (_, index) =>
    Array.from({ length: 30 }, (__, line) => `// module ${index} line ${line}: ${'x'.repeat(20 + ((index * line) % 40))}`),
  );
  const child = spawn('git', ['fast-import', '--quiet', '--done'], { cwd: gitDir, stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, GIT_DIR: gitDir } });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const write = (text: string): Promise<void> => new Promise((resolve) => (child.stdin.write(text) ? resolve() : child.stdin.once('drain', resolve)));
  const start = options.startAt ?? 1_700_000_000;
  for (let i = 0; i < options.commits; i++) {
    const message = `Change ${i + 1}: update ${1 + Math.floor(random() * 3)} modules\n`;
    let script = `commit refs/heads/${branch}\nmark :${i + 1}\ncommitter git-geo demo <demo@git-geo.example> ${start + i * 600} +0000\ndata ${Buffer.byteLength(message)}\n${message}`;
    if (i === 0 && options.parent) script += `from ${options.parent}\n`;
    const touched = new Set(Array.from({ length: 1 + Math.floor(random() * 3) }, () => Math.floor(random() * files)));
    for (const index of touched) {
      const lines = contents[index]!;
      lines.splice(Math.floor(random() * lines.length), 0, `// change ${i + 1} in module ${index} (${random().toString(36).slice(2)})`);
      const body = `${lines.join('\n')}\n`;
      script += `M 100644 inline src/module-${index}.js\ndata ${Buffer.byteLength(body)}\n${body}`;
    }
    await write(`${script}\n`);
  }
  await write('done\n');
  child.stdin.end();
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`git fast-import failed (${code}): ${stderr}`);
  return { commits: options.commits, files };
}
