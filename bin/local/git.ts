import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/**
 * Runs stock git asynchronously (never execFileSync: the git server and the local runtime
 * live in the same process and would deadlock). Identity and prompts are pinned so results
 * do not depend on the machine's git config.
 */
export async function git(args: readonly string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<string> {
  const running = execFileAsync('git', [...args], {
    cwd: options.cwd,
    maxBuffer: 256 * 1024 * 1024,
    env: {
      ...process.env,
      GIT_TERMINAL_PROMPT: '0',
      GIT_AUTHOR_NAME: 'git-geo',
      GIT_AUTHOR_EMAIL: 'git-geo@example.com',
      GIT_COMMITTER_NAME: 'git-geo',
      GIT_COMMITTER_EMAIL: 'git-geo@example.com',
      GIT_CONFIG_NOSYSTEM: '1',
      ...options.env,
    },
  });
  running.child.stdin?.on('error', () => undefined);
  running.child.stdin?.end(options.input ?? '');
  const { stdout } = await running;
  return stdout;
}

/** Every ref of a repository (local path or URL) as `ref -> oid`, HEAD's target under `HEAD`. */
export async function listRefs(repository: string): Promise<Map<string, string>> {
  const output = await git(['ls-remote', '--symref', repository]);
  const refs = new Map<string, string>();
  for (const line of output.split('\n')) {
    const symref = /^ref: (\S+)\tHEAD$/.exec(line);
    if (symref) {
      refs.set('HEAD', symref[1]!);
      continue;
    }
    const [oid, name] = line.split('\t');
    if (oid && name && name !== 'HEAD' && !name.endsWith('^{}')) refs.set(name, oid);
  }
  return refs;
}
