import type { ReplicableType } from '../ReplicableType.ts';

/**
 * Git repositories: the first type. Their events are the hosts' push and lifecycle events
 * (lambdas/notify/hosts/); fetch is the sync (lambdas/sync/syncRepository.ts), verification
 * verifyRepository (lambdas/verify), serving the regional endpoint (lambdas/endpoint), all by
 * path. Backfill lists each project the primary lists; every mirrored path no later type
 * claims is a Git repository.
 */
export const gitRepository: ReplicableType = {
  name: 'repository',
  strategy: 'repository',
  repositoryOf: (projectPath) => projectPath,
  owns: () => true,
  list: (project) => [project.path],
};
