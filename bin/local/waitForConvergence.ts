import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { filterRefs, refsChecksum } from '../../lambdas/shared/git/RefSnapshot.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { RepositoryState } from '../../lambdas/shared/registry/RepositoryState.ts';
import type { LocalRuntime } from './startLocalRuntime.ts';

export interface ConvergenceProgress {
  readonly region: string;
  readonly state: RepositoryState | undefined;
  readonly converged: boolean;
}

/**
 * Waits until every secondary region's registry says the repository holds exactly the
 * refs the primary has now (same checksum over HEAD and the mirrored namespaces).
 * Answers each region's final state; throws with every region's state on timeout.
 */
export async function waitForConvergence(options: {
  runtime: LocalRuntime;
  repository: RepositoryPath;
  primaryUrl: string;
  authorization?: string;
  timeoutMs?: number;
  regions?: readonly string[];
  /** Also wait until each region has processed events up to this sequence. */
  minSequence?: number;
  onProgress?: (progress: readonly ConvergenceProgress[]) => void;
}): Promise<Map<string, RepositoryState>> {
  const { runtime, repository } = options;
  const regions = options.regions ?? Object.keys(runtime.regions);
  const primary = new PrimaryRemote({ baseUrl: options.primaryUrl, authorization: options.authorization });
  const { snapshot } = await primary.discover(repository);
  const expected = refsChecksum(filterRefs(snapshot, runtime.config.refNamespaces));
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const progress = await Promise.all(
      regions.map(async (region): Promise<ConvergenceProgress> => {
        const state = await runtime.registry(region).get(repository);
        const caughtUp = (state?.syncedSequence ?? 0) >= (options.minSequence ?? 0);
        return { region, state, converged: state?.refsChecksum === expected && state.status !== 'started' && caughtUp };
      }),
    );
    options.onProgress?.(progress);
    if (progress.every((entry) => entry.converged)) return new Map(progress.map((entry) => [entry.region, entry.state!]));
    if (Date.now() > deadline) {
      const states = progress.map((entry) => `${entry.region}: ${JSON.stringify(entry.state ?? 'no record')}`).join('\n');
      throw new Error(`${repository} did not converge within ${options.timeoutMs ?? 30_000} ms (expected ${expected})\n${states}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
