import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { GitRequestRecord } from '../bin/local/startGitServer.ts';

const ENTRY = fileURLToPath(new URL('./gitServerProcess.ts', import.meta.url));

/** The local git server run in a child process (see gitServerProcess.ts), with its request log mirrored here. */
export class PrimaryProcess {
  readonly requests: GitRequestRecord[] = [];
  private readonly flushes: (() => void)[] = [];
  private readonly updates = new Map<number, (error?: string) => void>();
  private nextUpdate = 0;

  private constructor(
    private readonly child: ChildProcess,
    readonly url: string,
  ) {}

  static async start(root: string): Promise<PrimaryProcess> {
    const child = spawn(process.execPath, ['--import', 'tsx', ENTRY, root], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const holder: { primary?: PrimaryProcess } = {};
    const url = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`git server process exited (${code}) before it was ready`)));
      lines.on('line', (line) => {
        const message = JSON.parse(line) as { url?: string; request?: GitRequestRecord; flushed?: boolean; updated?: number; error?: string };
        if (message.url !== undefined) resolve(message.url);
        else if (message.request !== undefined) holder.primary?.requests.push(message.request);
        else if (message.flushed) holder.primary?.flushes.shift()?.();
        else if (message.updated !== undefined) holder.primary?.settleUpdate(message.updated, message.error);
      });
    });
    holder.primary = new PrimaryProcess(child, url);
    return holder.primary;
  }

  /** Waits until every request the server has answered so far is in `requests`. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      this.flushes.push(resolve);
      this.child.stdin!.write('flush\n');
    });
  }

  /**
   * Moves a ref on the primary, as a push landing there would (its objects must be there
   * already). Done by the primary's process, so the spawn of git costs this process nothing.
   */
  updateRef(repository: string, ref: string, after: string, before: string): Promise<void> {
    const id = this.nextUpdate++;
    return new Promise((resolve, reject) => {
      this.updates.set(id, (error) => (error === undefined ? resolve() : reject(new Error(`update-ref on the primary failed: ${error}`))));
      this.child.stdin!.write(`${JSON.stringify({ updateRef: { id, repository, ref, after, before } })}\n`);
    });
  }

  private settleUpdate(id: number, error: string | undefined): void {
    this.updates.get(id)?.(error);
    this.updates.delete(id);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
