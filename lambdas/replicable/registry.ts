import type { BlobStrategy, HostEvent, ListedProject, ReplicableType } from './ReplicableType.ts';
import { gitRepository } from './types/gitRepository.ts';
import { lfsObjects } from './types/lfsObjects.ts';
import { wiki } from './types/wiki.ts';

/** Every replicable type. Adding one: its module in types/, and one line here. */
export const REPLICABLE_TYPES: readonly ReplicableType[] = [gitRepository, lfsObjects, wiki];

type RepositoryType = Extract<ReplicableType, { strategy: 'repository' }>;

/** The change drafts the registered types find in a host event its host module left unhandled (empty: none). */
export function draftsFromTypes(event: HostEvent, types: readonly ReplicableType[] = REPLICABLE_TYPES): { type: string; drafts: NonNullable<ReturnType<NonNullable<RepositoryType['events']>>> } | undefined {
  for (const type of types) {
    if (type.strategy !== 'repository' || type.events === undefined) continue;
    const drafts = type.events(event);
    if (drafts !== undefined) return { type: type.name, drafts };
  }
  return undefined;
}

/** The blob types, which ride on every repository's sync and verification. */
export function blobTypes(types: readonly ReplicableType[] = REPLICABLE_TYPES): { name: string; blob: BlobStrategy<unknown> }[] {
  return types.flatMap((type) => (type.strategy === 'blob' ? [{ name: type.name, blob: type.blob }] : []));
}

/** The repository types: Git repositories of their own, synced, verified and served by path. */
export function repositoryTypes(types: readonly ReplicableType[] = REPLICABLE_TYPES): RepositoryType[] {
  return types.flatMap((type) => (type.strategy === 'repository' ? [type] : []));
}

/** The type a mirrored repository path belongs to: the last registered repository type that claims it. */
export function typeOfRepository(repositoryPath: string, types: readonly ReplicableType[] = REPLICABLE_TYPES): string {
  const owner = repositoryTypes(types)
    .reverse()
    .find((type) => type.owns(repositoryPath));
  return owner?.name ?? gitRepository.name;
}

/** Backfill: every repository, of every repository type, that a listed project has, each once. */
export function repositoriesOf(project: ListedProject, types: readonly ReplicableType[] = REPLICABLE_TYPES): string[] {
  return [...new Set(repositoryTypes(types).flatMap((type) => type.list(project)))];
}
