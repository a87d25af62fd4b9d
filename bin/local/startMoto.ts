import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './freePort.ts';

export interface MotoServer {
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** moto's server with its DynamoDB writes serialized (motoServer.py says why). */
const MOTO_SERVER = fileURLToPath(new URL('./motoServer.py', import.meta.url));

/**
 * Starts moto's server (the AWS emulator installed on these machines) on a free loopback
 * port and waits until it answers. `stop` kills it by its PID.
 */
export async function startMoto(options: { port?: number; python?: string; timeoutMs?: number } = {}): Promise<MotoServer> {
  const port = options.port ?? (await freePort());
  const python = options.python ?? process.env.PYTHON ?? 'python3';
  const child = spawn(python, [MOTO_SERVER, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`moto exited (${child.exitCode}) before it was ready. Is it installed (python3 -m moto.server)?\n${stderr}`);
    }
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      await response.body?.cancel();
      break;
    } catch {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`moto did not answer on ${endpoint} within ${options.timeoutMs ?? 30_000} ms\n${stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
  }
  return {
    endpoint,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}
