import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { NoTargetError } from '../ops/errors/NoTargetError.ts';
import { readLocalDescriptor, type LocalDescriptor } from '../ops/target.ts';
import type { LocalRuntime } from './startLocalRuntime.ts';

/** What the operator commands need of a running `git-geo local`: its ready line, its process, its configuration and its stacks' outputs. */
export function localDescriptor(runtime: LocalRuntime, pid: number = process.pid): LocalDescriptor {
  const ready = runtime.readyLine();
  return {
    ...ready,
    pid,
    startedAt: new Date().toISOString(),
    awsEndpoint: runtime.awsEndpoint,
    lambdaEndpoint: String(ready.lambdaEndpoint),
    config: { ...runtime.config },
    stacks: runtime.stacks.map((stack) => ({ stackName: stack.stackName, region: stack.region, outputs: Object.fromEntries(stack.outputs) })),
  };
}

/** Refuses a descriptor file another running `git-geo local` holds; a stopped one's is taken over. */
export function claimDescriptorFile(file: string): void {
  let current: LocalDescriptor | undefined;
  try {
    current = readLocalDescriptor(file);
  } catch {
    return; // unreadable: overwritten
  }
  if (current === undefined || current.pid === process.pid) return;
  try {
    process.kill(current.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return;
  }
  throw new NoTargetError(`another git-geo local (pid ${current.pid}) is running with the descriptor ${file}: stop it, or set GIT_GEO_TARGET to another file for this one`, { data: { file, pid: current.pid } });
}

/** Writes the descriptor (owner-only: it holds the runtime's control token), whole or not at all. */
export async function writeLocalDescriptor(file: string, descriptor: LocalDescriptor): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify(descriptor, null, 2)}\n`, { mode: 0o600 });
  await rename(partial, file);
}

/** Removes the descriptor when it is still this process's. */
export async function removeLocalDescriptor(file: string, pid: number = process.pid): Promise<void> {
  try {
    if (readLocalDescriptor(file)?.pid !== pid) return;
  } catch {
    return;
  }
  await rm(file, { force: true });
}
