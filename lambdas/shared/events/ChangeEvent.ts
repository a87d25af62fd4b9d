import * as z from 'zod';
import { OidSchema, RefNameSchema } from '../git/refName.ts';
import { parseRepositoryPath, type RepositoryPath } from '../repositoryPath.ts';

export const MAX_CHANGES_PER_EVENT = 10_000;

const RepositoryPathSchema = z.string().transform((value, ctx): RepositoryPath => {
  try {
    return parseRepositoryPath(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

export const RefChangeSchema = z.object({
  ref: RefNameSchema,
  before: OidSchema,
  after: OidSchema,
});
export type RefChange = z.infer<typeof RefChangeSchema>;

export const CHANGE_KINDS = [
  'push',
  'repository.created',
  'repository.deleted',
  'repository.renamed',
  'head.changed',
  'sync.requested',
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

/** Kinds that a sync of the primary's current state answers; lifecycle kinds need their own handling. */
export const REF_SYNC_KINDS: ReadonlySet<ChangeKind> = new Set(['push', 'repository.created', 'head.changed', 'sync.requested']);

export const CHANGE_SOURCES = ['gitlab', 'github', 'gitea', 'forgejo', 'generic', 'git-geo'] as const;
export type ChangeSource = (typeof CHANGE_SOURCES)[number];

/** What notify knows about a change before it is recorded in the event log. */
export const ChangeDraftSchema = z.object({
  kind: z.enum(CHANGE_KINDS),
  repository: RepositoryPathSchema,
  /** For a rename or transfer: where the repository was before. */
  previousRepository: RepositoryPathSchema.optional(),
  changes: z.array(RefChangeSchema).max(MAX_CHANGES_PER_EVENT).default([]),
  /** The default branch the host reports, as a full ref (refs/heads/main), when it says. */
  defaultBranch: RefNameSchema.optional(),
  /**
   * True when the host reported more ref changes than fit in one message and they were left out.
   * Syncs fetch the primary's current state, so the changes are hints and nothing is lost.
   */
  changesOmitted: z.boolean().optional(),
});
export type ChangeDraft = z.infer<typeof ChangeDraftSchema>;
export type ChangeDraftInput = z.input<typeof ChangeDraftSchema>;

/**
 * The one change-event type every host's webhook normalizes into. It is what the event
 * log stores and what the topic fans out; `sequence` orders events of one repository.
 */
export const ChangeEventSchema = ChangeDraftSchema.extend({
  version: z.literal(1),
  eventId: z.string().min(1).max(200),
  deliveryId: z.string().min(1).max(200),
  source: z.enum(CHANGE_SOURCES),
  /** 0 only on git-geo's own sync requests for a repository no event has named yet. */
  sequence: z.number().int().nonnegative(),
  receivedAt: z.iso.datetime(),
});
export type ChangeEvent = z.infer<typeof ChangeEventSchema>;
