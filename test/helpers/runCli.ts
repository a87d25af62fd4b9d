import { jest } from '@jest/globals';
import { main } from '../../bin/cli.ts';

/** Runs `git-geo <args>` in this process and answers what it wrote to stdout (stderr is silenced). */
export async function runCli(...args: string[]): Promise<string> {
  const out: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await main(['node', 'git-geo', ...args]);
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
  }
  return out.join('');
}

/** Runs `git-geo <args>` and parses the JSON line it printed last. */
export async function runCliJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  return JSON.parse((await runCli(...args)).trim().split('\n').at(-1)!) as T;
}
