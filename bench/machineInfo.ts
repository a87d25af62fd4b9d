import { execFile } from 'node:child_process';
import { cpus, freemem, loadavg, release, totalmem, type } from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface MachineInfo {
  readonly os: string;
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly freeMemoryMiB: number;
  readonly loadAverage: readonly number[];
  readonly node: string;
  readonly git: string;
  /** The emulator's version when the embedded moto is used; otherwise the endpoint. */
  readonly aws: string;
}

async function version(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(command, [...args]);
    return stdout.trim();
  } catch {
    return 'unknown';
  }
}

/** What the figures were measured on: they mean little without it. */
export async function machineInfo(awsEndpoint: string | undefined): Promise<MachineInfo> {
  const processors = cpus();
  const moto = awsEndpoint === undefined ? `moto ${await version(process.env.PYTHON ?? 'python3', ['-c', 'import moto; print(moto.__version__)'])}` : `endpoint ${awsEndpoint}`;
  return {
    os: `${type()} ${release()}`,
    cpuModel: processors[0]?.model ?? 'unknown',
    cpus: processors.length,
    memoryMiB: Math.round(totalmem() / 2 ** 20),
    freeMemoryMiB: Math.round(freemem() / 2 ** 20),
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    node: process.version,
    git: (await version('git', ['--version'])).replace(/^git version /, ''),
    aws: moto,
  };
}
