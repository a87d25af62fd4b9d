import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { RegionControl, type RegionControlState, type ScheduledRun } from '../shared/registry/RegionControl.ts';
import { countByType, type TypeCount } from '../replicable/countByType.ts';
import { scanReplicables, type ItemState } from '../replicable/ItemRegistry.ts';
import { blobTypes } from '../replicable/registry.ts';
import type { ReplicableType } from '../replicable/ReplicableType.ts';
import { Registry } from '../shared/registry/Registry.ts';
import type { RepositoryState } from '../shared/registry/RepositoryState.ts';
import { parseRepositoryPath } from '../shared/repositoryPath.ts';
import { isStuck, unreplicatedSince } from '../verify/watchStuckSyncs.ts';

/**
 * What operators see of a deployment, read once for both `git-geo status` and the status page:
 * per region its health (with the reasons), what is synced, failed and verified, lag, failures by
 * cause, the last backup and verification runs; and one repository's state in every region.
 * A region that cannot be read is reported unreachable, never left out.
 */

/** Where a region's state is: its registry table, and its dead-letter queue when the reader may look. */
export interface RegionSource {
  readonly region: string;
  readonly registryTable: string;
  readonly deadLetterQueueUrl?: string;
  /** The change-event queue the region's sync reads: its depth is what waits to be synced. */
  readonly queueUrl?: string;
}

/** The clients of each region (created once by the caller). */
export interface RegionClients {
  documents(region: string): DynamoDBDocumentClient;
  sqs(region: string): SQSClient;
}

export interface StatusSettings {
  /** The sync function's lease: a sync `started` longer is stuck. */
  readonly leaseSeconds: number;
  /** Replication lag objective (GeoConfig.replicationLagSloSeconds). */
  readonly lagSloSeconds: number;
  /** Backups are expected this often (GeoConfig.backupIntervalMinutes). */
  readonly backupIntervalMinutes: number;
  /** A region that has not answered by then is reported unreachable. */
  readonly timeoutMs: number;
  /** The replicable types counted per region. @default REPLICABLE_TYPES */
  readonly types?: readonly ReplicableType[];
}

export type Health = 'healthy' | 'degraded' | 'unhealthy' | 'unreachable';

export interface FailureGroup {
  readonly code: string;
  /** transient: retried with backoff by itself; permanent: waits for an operator (fix, then redrive); verification: repaired, then flagged. */
  readonly kind: 'transient' | 'permanent' | 'verification';
  readonly count: number;
  readonly examples: readonly string[];
  /** The repositories behind it (the first MAX_LISTED). */
  readonly repositories: readonly string[];
}

export interface LagPoint {
  /** Start of the minute. */
  readonly at: string;
  readonly syncs: number;
  readonly p50Ms: number;
  readonly maxMs: number;
}

export interface RegionStatus {
  readonly region: string;
  readonly health: Exclude<Health, 'unreachable'>;
  /** Why it is not healthy; empty when it is. */
  readonly reasons: readonly string[];
  readonly control: RegionControlState;
  readonly repositories: number;
  readonly byStatus: Readonly<Record<string, number>>;
  /** Up to date (synced or verified), failed (sync or verification), verified: counts and percentages of `repositories`. */
  readonly synced: number;
  readonly failed: number;
  readonly verified: number;
  readonly percent: { readonly synced: number; readonly failed: number; readonly verified: number };
  /** The registry knows a newer event than the mirror covers. */
  readonly behind: number;
  readonly stuck: number;
  readonly verificationGaveUp: number;
  /** Push to replicated, over the newest event each repository's last sync covered. */
  readonly lagMs: { readonly p50?: number; readonly p95?: number; readonly p99?: number; readonly max?: number };
  /** How long the oldest push the region has not replicated has waited. */
  readonly oldestUnreplicatedMs?: number;
  /** Messages in the dead-letter queue, when it could be read. */
  readonly deadLetters?: number;
  /** Change events waiting in the region's queue or being synced, when it could be read. */
  readonly queuedEvents?: number;
  readonly lastBackup?: ScheduledRun;
  readonly lastVerification?: ScheduledRun;
  /** Per minute over the last hour: lag of the syncs that finished then. */
  readonly lagHistory: readonly LagPoint[];
  readonly failures: readonly FailureGroup[];
  /** Per replicable type (repository, lfs-object, wiki, ...): what the region holds, synced, verified and failed. */
  readonly byType: Readonly<Record<string, TypeCount>>;
  readonly checkedAt: string;
}

export interface UnreachableRegion {
  readonly region: string;
  readonly health: 'unreachable';
  readonly reasons: readonly string[];
  readonly checkedAt: string;
}

export interface DeploymentStatus {
  readonly generatedAt: string;
  readonly lagSloSeconds: number;
  readonly regions: readonly (RegionStatus | UnreachableRegion)[];
}

/** One repository in one region: its registry state, absent (the region does not hold it), or the region could not be read. */
export type RepositoryInRegion =
  | { readonly region: string; readonly found: true; readonly state: RepositoryState }
  | { readonly region: string; readonly found: false }
  | { readonly region: string; readonly unreachable: string };

/** Repositories listed per failure group; the count is always complete. */
export const MAX_LISTED = 50;
const EXAMPLES = 3;
const HISTORY_MINUTES = 60;

function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const percentOf = (part: number, whole: number): number => (whole === 0 ? 0 : Math.round((1000 * part) / whole) / 10);

function lagHistory(states: readonly RepositoryState[], now: Date): LagPoint[] {
  const minute = 60_000;
  const start = Math.floor(now.getTime() / minute) * minute - (HISTORY_MINUTES - 1) * minute;
  const bins: number[][] = Array.from({ length: HISTORY_MINUTES }, () => []);
  for (const state of states) {
    if (state.lagMs === undefined || state.lastSyncedAt === undefined) continue;
    const index = Math.floor((Date.parse(state.lastSyncedAt) - start) / minute);
    if (index >= 0 && index < HISTORY_MINUTES) bins[index]!.push(state.lagMs);
  }
  return bins.flatMap((lags, index) => {
    if (lags.length === 0) return [];
    lags.sort((a, b) => a - b);
    return [{ at: new Date(start + index * minute).toISOString(), syncs: lags.length, p50Ms: percentile(lags, 50)!, maxMs: lags[lags.length - 1]! }];
  });
}

const seconds = (ms: number): string => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms < 3_600_000 ? `${Math.round(ms / 1000)} s` : `${(ms / 3_600_000).toFixed(1)} h`);

/** Summarises one region's registry for operators: what is where, what is behind, the commonest failures, and whether it is healthy. */
export function summarise(
  region: string,
  states: readonly RepositoryState[],
  control: RegionControlState,
  now: Date,
  leaseSeconds: number,
  extra: {
    readonly lagSloSeconds?: number;
    readonly backupIntervalMinutes?: number;
    readonly deadLetters?: number;
    readonly queuedEvents?: number;
    /** The rows of blob types' items (LFS objects), counted per type. */
    readonly items?: readonly ItemState[];
    /** @default REPLICABLE_TYPES */
    readonly types?: readonly ReplicableType[];
  } = {},
): RegionStatus {
  const { lastBackup, lastVerification, ...controlState } = control;
  const byStatus: Record<string, number> = {};
  const groups = new Map<string, { code: string; kind: FailureGroup['kind']; count: number; examples: string[]; repositories: string[] }>();
  const lags: number[] = [];
  let behind = 0;
  let stuck = 0;
  let gaveUp = 0;
  let oldestUnreplicated: number | undefined;
  let backlog = 0;
  const group = (code: string, kind: FailureGroup['kind'], repository: string): void => {
    const key = `${kind}:${code}`;
    const entry = groups.get(key) ?? { code, kind, count: 0, examples: [], repositories: [] };
    entry.count++;
    if (entry.examples.length < EXAMPLES) entry.examples.push(repository);
    if (entry.repositories.length < MAX_LISTED) entry.repositories.push(repository);
    groups.set(key, entry);
  };
  const live = states.filter((state) => state.status !== 'deleted');
  for (const state of states) byStatus[state.status] = (byStatus[state.status] ?? 0) + 1;
  for (const state of live) {
    if (Math.max(state.lastEventSequence ?? 0, state.announcedSequence ?? 0) > (state.syncedSequence ?? 0)) behind++;
    const since = unreplicatedSince(state);
    const received = since === undefined ? undefined : Date.parse(since);
    if (received !== undefined) backlog++;
    if (received !== undefined && (oldestUnreplicated === undefined || received < oldestUnreplicated)) oldestUnreplicated = received;
    if (isStuck(state, now, leaseSeconds)) stuck++;
    if (state.verificationGaveUp) gaveUp++;
    if (state.lagMs !== undefined) lags.push(state.lagMs);
    if (state.status === 'failed' && state.lastError) group(state.lastError.code, state.lastError.retryable ? 'transient' : 'permanent', state.repository);
    if (state.status === 'verification_failed') for (const code of state.verificationFailure?.codes ?? ['unknown']) group(code, 'verification', state.repository);
  }
  lags.sort((a, b) => a - b);
  const count = (name: string): number => byStatus[name] ?? 0;
  const repositories = live.length;
  const synced = count('synced') + count('verified');
  const failed = count('failed') + count('verification_failed');
  const verified = count('verified');
  const failures = [...groups.values()].sort((a, b) => b.count - a.count);
  const oldestUnreplicatedMs = oldestUnreplicated === undefined ? undefined : Math.max(0, now.getTime() - oldestUnreplicated);
  const lagMs = lags.length ? { p50: percentile(lags, 50), p95: percentile(lags, 95), p99: percentile(lags, 99), max: lags[lags.length - 1] } : {};

  // Unhealthy: something waits for an operator. Degraded: it recovers by itself, or is slower than promised.
  const unhealthy: string[] = [];
  const degraded: string[] = [];
  const codes = (kind: FailureGroup['kind']): string =>
    failures
      .filter((failure) => failure.kind === kind)
      .map((failure) => `${failure.code} (${failure.count})`)
      .join(', ');
  const permanent = failures.filter((failure) => failure.kind === 'permanent').reduce((sum, failure) => sum + failure.count, 0);
  const transient = failures.filter((failure) => failure.kind === 'transient').reduce((sum, failure) => sum + failure.count, 0);
  if (permanent > 0) unhealthy.push(`${permanent} ${permanent === 1 ? 'repository' : 'repositories'} failed permanently: ${codes('permanent')}`);
  if (count('verification_failed') > 0) unhealthy.push(`verification found damage in ${count('verification_failed')} ${count('verification_failed') === 1 ? 'mirror' : 'mirrors'}: ${codes('verification')}`);
  if (gaveUp > 0) unhealthy.push(`repairs given up for ${gaveUp} ${gaveUp === 1 ? 'mirror' : 'mirrors'}`);
  if ((extra.deadLetters ?? 0) > 0) unhealthy.push(`${extra.deadLetters} change ${extra.deadLetters === 1 ? 'event' : 'events'} in the dead-letter queue`);
  const byType = countByType(states, extra.items ?? [], extra.types);
  for (const { name } of blobTypes(extra.types)) {
    const items = byType[name];
    if (items !== undefined && items.failed > 0) degraded.push(`${items.failed} ${name} ${items.failed === 1 ? 'item' : 'items'} failed: ${items.failures.map((failure) => `${failure.code} (${failure.count})`).join(', ')}`);
  }
  if (stuck > 0) degraded.push(`${stuck} ${stuck === 1 ? 'sync' : 'syncs'} stuck in started`);
  if (controlState.paused) degraded.push(`paused${controlState.pausedBy ? ` by ${controlState.pausedBy}` : ''}${controlState.pausedAt ? ` since ${controlState.pausedAt}` : ''}`);
  if (transient > 0) degraded.push(`${transient} ${transient === 1 ? 'repository' : 'repositories'} retrying: ${codes('transient')}`);
  const slo = extra.lagSloSeconds === undefined ? undefined : extra.lagSloSeconds * 1000;
  if (slo !== undefined && oldestUnreplicatedMs !== undefined && oldestUnreplicatedMs > slo) {
    degraded.push(`${backlog} ${backlog === 1 ? 'repository' : 'repositories'} behind; the oldest unreplicated push is ${seconds(oldestUnreplicatedMs)} old (objective ${seconds(slo)})`);
  }
  if (slo !== undefined && lagMs.p99 !== undefined && lagMs.p99 > slo) degraded.push(`lag p99 ${seconds(lagMs.p99)} is above the objective (${seconds(slo)})`);
  if (extra.backupIntervalMinutes !== undefined && lastBackup !== undefined && now.getTime() - Date.parse(lastBackup.at) > 2 * extra.backupIntervalMinutes * 60_000) {
    degraded.push(`the last backup ran at ${lastBackup.at}, more than two intervals (${extra.backupIntervalMinutes} min) ago`);
  }
  return {
    region,
    health: unhealthy.length > 0 ? 'unhealthy' : degraded.length > 0 ? 'degraded' : 'healthy',
    reasons: [...unhealthy, ...degraded],
    control: controlState,
    repositories,
    byStatus,
    synced,
    failed,
    verified,
    percent: { synced: percentOf(synced, repositories), failed: percentOf(failed, repositories), verified: percentOf(verified, repositories) },
    behind,
    stuck,
    verificationGaveUp: gaveUp,
    lagMs,
    ...(oldestUnreplicatedMs === undefined ? {} : { oldestUnreplicatedMs }),
    ...(extra.deadLetters === undefined ? {} : { deadLetters: extra.deadLetters }),
    ...(extra.queuedEvents === undefined ? {} : { queuedEvents: extra.queuedEvents }),
    ...(lastBackup === undefined ? {} : { lastBackup }),
    ...(lastVerification === undefined ? {} : { lastVerification }),
    lagHistory: lagHistory(live, now),
    failures,
    byType,
    checkedAt: now.toISOString(),
  };
}

/** Settles within `ms`, or rejects saying the region did not answer. */
async function within<T>(ms: number, region: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${region} within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const NETWORK_FAILURE = /socket hang up|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|TimeoutError/;

/** Why a region could not be read, as an operator reads it: a connection that failed says so, without the SDK's wrapping. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const message = error.message.replace(/^AWS SDK error wrapper for /, '');
  if (NETWORK_FAILURE.test(`${error.name} ${message}`)) return `its AWS endpoint did not answer: the connection failed (${message.replace(/^[A-Za-z]*Error: /, '')})`;
  return `${error.name === 'Error' ? '' : `${error.name}: `}${message}`;
}

/** Reads one region: its registry, control item and dead-letter queue. Throws when the region cannot be read. */
export async function readRegionStatus(source: RegionSource, clients: RegionClients, settings: Omit<StatusSettings, 'timeoutMs'>, now = new Date()): Promise<RegionStatus> {
  const documents = clients.documents(source.region);
  const { repositories: states, items } = await scanReplicables(documents, source.registryTable);
  const control = await new RegionControl(documents, source.registryTable).get();
  const depth = async (queueUrl: string | undefined): Promise<number | undefined> => {
    if (queueUrl === undefined) return undefined;
    const { Attributes } = await clients
      .sqs(source.region)
      .send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Number(Attributes?.ApproximateNumberOfMessages ?? 0) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  };
  const [deadLetters, queuedEvents] = await Promise.all([depth(source.deadLetterQueueUrl), depth(source.queueUrl)]);
  return summarise(source.region, states, control, now, settings.leaseSeconds, {
    lagSloSeconds: settings.lagSloSeconds,
    backupIntervalMinutes: settings.backupIntervalMinutes,
    items,
    ...(settings.types === undefined ? {} : { types: settings.types }),
    ...(deadLetters === undefined ? {} : { deadLetters }),
    ...(queuedEvents === undefined ? {} : { queuedEvents }),
  });
}

/** Every region at once, each within the timeout: a region that fails or does not answer is reported unreachable, with why. */
export async function readDeploymentStatus(sources: readonly RegionSource[], clients: RegionClients, settings: StatusSettings): Promise<DeploymentStatus> {
  const regions = await Promise.all(
    sources.map(async (source): Promise<RegionStatus | UnreachableRegion> => {
      try {
        return await within(settings.timeoutMs, source.region, readRegionStatus(source, clients, settings));
      } catch (error) {
        return { region: source.region, health: 'unreachable', reasons: [`could not read the region's registry: ${describe(error)}`], checkedAt: new Date().toISOString() };
      }
    }),
  );
  return { generatedAt: new Date().toISOString(), lagSloSeconds: settings.lagSloSeconds, regions };
}

/** One repository's state in every region. Throws ValidationError for a path that is not a repository path. */
export async function findRepository(sources: readonly RegionSource[], clients: RegionClients, repository: string, timeoutMs: number): Promise<RepositoryInRegion[]> {
  const path = parseRepositoryPath(repository);
  return await Promise.all(
    sources.map(async (source): Promise<RepositoryInRegion> => {
      try {
        const state = await within(timeoutMs, source.region, new Registry(clients.documents(source.region), source.registryTable).get(path));
        return state === undefined ? { region: source.region, found: false } : { region: source.region, found: true, state };
      } catch (error) {
        return { region: source.region, unreachable: describe(error) };
      }
    }),
  );
}
