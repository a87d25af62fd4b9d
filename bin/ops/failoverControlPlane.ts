import type { SNSClient } from '@aws-sdk/client-sns';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash, randomUUID } from 'node:crypto';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import type { ChangeEvent } from '../../lambdas/shared/events/ChangeEvent.ts';
import { ChangePublisher } from '../../lambdas/shared/events/ChangePublisher.ts';
import { publishHeartbeat } from '../../lambdas/shared/events/ControlPlaneHeartbeat.ts';
import { PrimaryOverrideStore } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import { Announcements, type ControlPlaneContact } from '../../lambdas/shared/registry/Announcements.ts';
import { Registry } from '../../lambdas/shared/registry/Registry.ts';
import type { RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { runPool } from './runPool.ts';

/**
 * How far past the highest sequence any surviving region has seen the new event log starts. The
 * lost log may still hold events no region received (they come back with it, and are republished);
 * they must stay below every sequence the new log hands out, or a region would take a new push for
 * an old duplicate. No repository gets a million events stuck in a lost log.
 */
export const FAILOVER_SEQUENCE_GAP = 1_000_000;

/** The control plane taking over: its event log and topic (a standby stack's, or the primary's on failback). */
export interface ControlPlaneTarget {
  readonly region: string;
  readonly webhookUrl: string;
  readonly eventLogTable: string;
  readonly topicArn: string;
  readonly db: DynamoDBDocumentClient;
  readonly sns: SNSClient;
}

/** A secondary region, through its registry table (which also holds its control item). */
export interface FailoverRegion {
  readonly region: string;
  readonly registryTable: string;
  readonly db: DynamoDBDocumentClient;
}

export interface FailoverRegionOutcome {
  readonly region: string;
  /** Whether the region now trusts the new control plane; false: unreachable, named in `error`. */
  readonly switched: boolean;
  /** From the command's start until the region recorded the new control plane's heartbeat. */
  readonly heardAfterMs?: number;
  readonly error?: string;
}

export interface FailoverResult {
  readonly toRegion: string;
  /** Where every Git host's webhooks must now go. */
  readonly webhookUrl: string;
  readonly regions: readonly FailoverRegionOutcome[];
  /** Repositories known to the reachable regions, whose sequences now continue in the new event log. */
  readonly repositories: number;
  /** Sync requests recorded and fanned out through the new control plane (one per repository). */
  readonly resyncRequested: number;
  /** Command start to every reachable region hearing the new control plane: the control plane's RTO from the operator's decision. */
  readonly rtoMs: number | undefined;
  readonly startedAt: string;
}

export interface FailoverOptions {
  readonly target: ControlPlaneTarget;
  readonly regions: readonly FailoverRegion[];
  /** Also ask every region to re-read every repository through the new control plane: pushes whose webhooks were lost with the old one are recovered. */
  readonly resync: boolean;
  /** How long to wait for each region to hear the new control plane. */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

function message(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/**
 * Moves the control plane (webhooks, event log, fan-out) to `target.region`:
 * 1. every reachable region trusts the new control plane's heartbeats from now on;
 * 2. the new event log continues each repository's sequence past what any region has seen;
 * 3. the primary override, if one is in force, is carried over (notify reads it there);
 * 4. the new control plane announces itself, and the command waits until every reachable region heard it (RTO);
 * 5. optionally, a sync request per repository goes out through it, so what the lost log never delivered is read from the Git host.
 * Running it again is harmless: each step only ever raises or repeats.
 */
export async function failoverControlPlane(options: FailoverOptions): Promise<FailoverResult> {
  const log = options.log ?? (() => undefined);
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const { target } = options;

  const reached: FailoverRegion[] = [];
  const outcomes = new Map<string, FailoverRegionOutcome>();
  const floors = new Map<RepositoryPath, number>();
  const live = new Set<RepositoryPath>();
  for (const region of options.regions) {
    try {
      await new Announcements(region.db, region.registryTable, 0).setActiveControlPlane(target.region);
      for await (const state of new Registry(region.db, region.registryTable).list()) {
        const seen = Math.max(state.announcedSequence ?? 0, state.syncedSequence ?? 0, state.lastEventSequence ?? 0, state.deletedSequence ?? 0);
        floors.set(state.repository, Math.max(floors.get(state.repository) ?? 0, seen));
        if (state.status !== 'deleted') live.add(state.repository);
      }
      reached.push(region);
      log(`${region.region}: now trusts the control plane in ${target.region}`);
    } catch (error) {
      outcomes.set(region.region, { region: region.region, switched: false, error: message(error) });
      log(`${region.region}: unreachable (${message(error)}); run the command again once it is back`);
    }
  }

  const eventLog = new EventLog(target.db, target.eventLogTable);
  await runPool([...floors], 8, async ([repository, seen]) => await eventLog.raiseSequenceFloor(repository, seen + FAILOVER_SEQUENCE_GAP, startedAt));
  log(`event log ${target.eventLogTable}: sequences of ${floors.size} repositories continue past what the regions have seen`);

  for (const region of reached) {
    const override = await PrimaryOverrideStore.regional(region.db, region.registryTable, 0).current();
    if (override === undefined) continue;
    const store = new PrimaryOverrideStore(target.db, target.eventLogTable, 0);
    if ((await store.current())?.promotionId !== override.promotionId) await store.set(override);
    log(`primary override to ${override.url} carried over`);
    break;
  }

  const heartbeatAt = new Date();
  await publishHeartbeat(target.sns, target.topicArn, target.region, heartbeatAt);
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  await Promise.all(
    reached.map(async (region) => {
      const announcements = new Announcements(region.db, region.registryTable, 0);
      for (;;) {
        const contact = await announcements.controlPlaneContact().catch((): ControlPlaneContact => ({}));
        if (contact.region === target.region && contact.heardAt !== undefined && Date.parse(contact.heardAt) >= heartbeatAt.getTime()) {
          outcomes.set(region.region, { region: region.region, switched: true, heardAfterMs: Date.now() - started });
          return;
        }
        if (Date.now() > deadline) {
          outcomes.set(region.region, { region: region.region, switched: true, error: `did not hear the new control plane within ${options.timeoutMs ?? 120_000} ms` });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }),
  );
  const heard = [...outcomes.values()].filter((outcome) => outcome.heardAfterMs !== undefined);
  const rtoMs = heard.length === reached.length && reached.length > 0 ? Math.max(...heard.map((outcome) => outcome.heardAfterMs!)) : undefined;
  log(rtoMs === undefined ? 'not every reachable region heard the new control plane' : `every reachable region heard the new control plane after ${rtoMs} ms`);

  let resyncRequested = 0;
  if (options.resync) {
    const publisher = new ChangePublisher(target.sns, target.topicArn);
    const batch = randomUUID();
    await runPool([...live], 8, async (repository) => {
      const eventId = `git-geo-failover-${batch}-${createHash('sha256').update(repository).digest('hex').slice(0, 32)}`;
      const receivedAt = new Date().toISOString();
      const { event } = await eventLog.record(repository, eventId, receivedAt, (sequence): ChangeEvent => ({
        version: 1,
        eventId,
        deliveryId: eventId,
        source: 'git-geo',
        kind: 'sync.requested',
        repository,
        changes: [],
        sequence,
        receivedAt,
      }));
      // Published now; one that fails stays unpublished and the new control plane's republisher sends it.
      await publisher.publish(event);
      await eventLog.markPublished(event);
      resyncRequested++;
    });
    log(`${resyncRequested} sync requests fanned out through ${target.region}`);
  }

  return {
    toRegion: target.region,
    webhookUrl: target.webhookUrl,
    regions: options.regions.map((region) => outcomes.get(region.region) ?? { region: region.region, switched: false }),
    repositories: floors.size,
    resyncRequested,
    rtoMs,
    startedAt,
  };
}
