import type { ReplicableType } from '../ReplicableType.ts';

/**
 * Git repositories: the first type. Their events are the hosts' push and lifecycle events
 * (lambdas/notify/hosts/), and sync, verification, backfill and serving are the Git
 * strategy's (lambdas/sync, lambdas/verify, lambdas/backfill, lambdas/endpoint).
 */
export const gitRepository: ReplicableType = {
  name: 'repository',
  strategy: 'repository',
  repositoryOf: (projectPath) => projectPath,
};
