import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ChangeEvent, RefChange } from '../../lambdas/shared/events/ChangeEvent.ts';
import type { ChangePublisher } from '../../lambdas/shared/events/ChangePublisher.ts';
import { fitForTransport } from '../../lambdas/shared/events/fitForTransport.ts';
import type { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { MirrorRepository } from '../../lambdas/shared/git/MirrorRepository.ts';
import type { PrimaryOverride, PrimaryOverrideStore } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import type { Registry } from '../../lambdas/shared/registry/Registry.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import type { PrimaryCredentials } from '../../lambdas/shared/secrets/SecretReader.ts';
import type { ObjectStore } from '../../lambdas/shared/storage/ObjectStore.ts';
import { downloadMirror } from '../local/downloadMirror.ts';
import type { HostApi } from './HostApi.ts';
import { pushRepository } from './pushRepository.ts';
import { runPool } from './runPool.ts';

const ZERO_OID = '0'.repeat(40);

export interface PromotedRepository {
  readonly repository: string;
  /** HEAD's target and every mirrored ref, as the new host has them after the push. */
  readonly refs: Readonly<Record<string, string>>;
  /** The host has exactly the region's refs and HEAD. */
  readonly identical: boolean;
  /** The host could not be told the default branch (no host API): set it by hand. */
  readonly defaultBranchToSet?: string;
  /** Not pushed: the region holds no copy of it (the RPO report lists it as lost). */
  readonly skipped?: string;
  readonly error?: string;
}

export interface PromotionResult {
  readonly promotionId: string;
  readonly repositories: readonly PromotedRepository[];
  readonly failed: readonly PromotedRepository[];
  /** The override written, when every repository was pushed. */
  readonly override: PrimaryOverride | undefined;
  /** sync.requested events published so every region reconciles with the new primary. */
  readonly eventsPublished: number;
}

export interface PromoteOptions {
  readonly region: string;
  /** Base URL of the new primary. */
  readonly to: string;
  readonly previousUrl: string;
  readonly store: ObjectStore;
  readonly registry: Registry;
  readonly eventLog: EventLog;
  readonly publisher: ChangePublisher;
  readonly overrides: PrimaryOverrideStore;
  readonly refNamespaces: readonly string[];
  readonly host: HostApi;
  /** Push credentials for the new host (from Secrets Manager). */
  readonly credentials?: PrimaryCredentials;
  /** The secret they came from: the pipeline reads the new primary with it. */
  readonly credentialsSecretName?: string;
  readonly operator: string;
  readonly planned: boolean;
  /** Local scratch directory for the mirrors being pushed. */
  readonly scratch: string;
  /** @default 4 */
  readonly concurrency?: number;
  readonly repositories?: readonly string[];
  readonly onProgress?: (done: number, total: number, repository: string) => void;
  readonly now?: () => Date;
}

/** Every repository the region holds a mirror of (not deleted), by its registry. */
async function mirroredRepositories(registry: Registry, only: readonly string[] | undefined): Promise<RepositoryPath[]> {
  const wanted = only === undefined ? undefined : new Set(only);
  const repositories: RepositoryPath[] = [];
  for await (const state of registry.list()) {
    if (state.status === 'deleted') continue;
    if (wanted !== undefined && !wanted.has(state.repository)) continue;
    repositories.push(parseRepositoryPath(state.repository));
  }
  return repositories.sort();
}

/**
 * Makes another Git host the primary from one region's mirrors: pushes every mirrored repository
 * (all mirrored refs, forced and pruned, so a failback onto a host that diverged ends identical;
 * git sends only the objects the host lacks) and sets its default branch, checks the host's refs,
 * then switches the pipeline with the runtime primary override (audited) and publishes a
 * `sync.requested` event per repository so every region reconciles with the new primary, fetching
 * only what differs. Nothing is switched when any repository failed.
 */
export async function promoteRegion(options: PromoteOptions): Promise<PromotionResult> {
  const now = options.now ?? (() => new Date());
  const promotionId = randomUUID();
  const to = options.to.replace(/\/+$/, '');
  const repositories = await mirroredRepositories(options.registry, options.repositories);
  const workDir = join(options.scratch, `promote-${promotionId}`);
  await mkdir(workDir, { recursive: true });
  let done = 0;
  const results = await runPool(repositories, options.concurrency ?? 4, async (repository, index): Promise<PromotedRepository> => {
    try {
      const mirror = await new MirrorRepository(options.store, repository).readState();
      if (mirror === undefined) return { repository, refs: {}, identical: false, skipped: `region ${options.region} holds no copy` };
      const gitDir = await downloadMirror(options.store, repository, join(workDir, String(index)));
      await options.host.ensureRepository(repository);
      const url = `${to}/${repository}.git`;
      let { refs } = await pushRepository({ gitDir, url, namespaces: options.refNamespaces, credentials: options.credentials });
      let defaultBranchToSet: string | undefined;
      const head = mirror.snapshot.head;
      if (head !== undefined && refs.get('HEAD') !== head && mirror.snapshot.refs.has(head)) {
        if (await options.host.setDefaultBranch(repository, head)) refs = new Map([...refs, ['HEAD', head]]);
        else defaultBranchToSet = head;
      }
      const expected = new Map(mirror.snapshot.refs);
      const pushed = new Map([...refs].filter(([name]) => name !== 'HEAD'));
      const identical = expected.size === pushed.size && [...expected].every(([name, oid]) => pushed.get(name) === oid) && (head === undefined || !expected.has(head) || refs.get('HEAD') === head);
      await rm(gitDir, { recursive: true, force: true });
      return { repository, refs: Object.fromEntries(refs), identical, ...(defaultBranchToSet ? { defaultBranchToSet } : {}) };
    } catch (error) {
      return { repository, refs: {}, identical: false, error: (error as Error).message };
    } finally {
      options.onProgress?.(++done, repositories.length, repository);
    }
  });
  await rm(workDir, { recursive: true, force: true });
  const failed = results.filter((result) => result.skipped === undefined && (result.error !== undefined || !result.identical));
  if (failed.length > 0) return { promotionId, repositories: results, failed, override: undefined, eventsPublished: 0 };

  const override: PrimaryOverride = {
    url: to,
    ...(options.credentialsSecretName ? { credentialsSecretName: options.credentialsSecretName } : {}),
    previousUrl: options.previousUrl,
    fromRegion: options.region,
    promotedAt: now().toISOString(),
    promotedBy: options.operator,
    planned: options.planned,
    promotionId,
  };
  await options.overrides.set(override);

  let eventsPublished = 0;
  await runPool(results.filter((result) => result.skipped === undefined), options.concurrency ?? 4, async (result) => {
    const repository = parseRepositoryPath(result.repository);
    const known = (await options.eventLog.head(repository))?.knownRefs ?? {};
    const inNamespace = (ref: string): boolean => options.refNamespaces.some((namespace) => ref.startsWith(namespace));
    const names = new Set([...Object.keys(known).filter(inNamespace), ...Object.keys(result.refs).filter((name) => name !== 'HEAD')]);
    // The transition from the old primary's last known refs to the new primary's: folded into knownRefs, so RPO reports compare with the new primary.
    const changes: RefChange[] = [...names]
      .map((ref) => ({ ref, before: known[ref] ?? ZERO_OID, after: result.refs[ref] ?? ZERO_OID }))
      .filter((change) => change.before !== change.after);
    const receivedAt = now().toISOString();
    const eventId = `git-geo:promote:${promotionId}:${repository}`;
    const recorded = await options.eventLog.record(repository, eventId, receivedAt, (sequence) =>
      fitForTransport<ChangeEvent>({
        kind: 'sync.requested',
        repository,
        changes,
        ...(result.refs.HEAD ? { defaultBranch: result.refs.HEAD } : {}),
        version: 1,
        eventId,
        deliveryId: `promote-${promotionId}`,
        source: 'git-geo',
        sequence,
        receivedAt,
      }),
    );
    if (!recorded.published) {
      await options.publisher.publish(recorded.event);
      // The full list: the event itself may carry none when it was too large for transport.
      await options.eventLog.markPublished(recorded.event, changes);
    }
    eventsPublished++;
  });
  return { promotionId, repositories: results, failed, override, eventsPublished };
}
