import type { BlobStrategy, HostEvent, ReplicableType } from './ReplicableType.ts';
import { gitRepository } from './types/gitRepository.ts';
import { lfsObjects } from './types/lfsObjects.ts';
import { wiki } from './types/wiki.ts';

/** Every replicable type. Adding one: its module in types/, and one line here. */
export const REPLICABLE_TYPES: readonly ReplicableType[] = [gitRepository, lfsObjects, wiki];

/** The change drafts the registered types find in a host event its host module left unhandled (empty: none). */
export function draftsFromTypes(event: HostEvent, types: readonly ReplicableType[] = REPLICABLE_TYPES): { type: string; drafts: NonNullable<ReturnType<NonNullable<Extract<ReplicableType, { strategy: 'repository' }>['events']>>> } | undefined {
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
