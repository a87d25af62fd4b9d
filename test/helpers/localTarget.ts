import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDescriptor, writeLocalDescriptor } from '../../bin/local/localDescriptor.ts';
import type { LocalRuntime } from '../../bin/local/startLocalRuntime.ts';
import { resolveTarget, TARGET_ENV, type Target } from '../../bin/ops/target.ts';

/**
 * Points the operator commands run in this process (GIT_GEO_TARGET) at a runtime started here,
 * through the descriptor `git-geo local` would write; answers the target they resolve.
 */
export async function targetRuntime(runtime: LocalRuntime): Promise<Target> {
  const file = join(await mkdtemp(join(tmpdir(), 'git-geo-target-')), 'local.json');
  await writeLocalDescriptor(file, localDescriptor(runtime));
  process.env[TARGET_ENV] = file;
  return resolveTarget();
}
