import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { GeoError } from './errors/GeoError.ts';

/**
 * Every metric git-geo publishes, in one place: the handlers emit them (EMF, through Powertools),
 * the alarms and the dashboard (cdk/constructs/RegionAlarms.ts, GeoDashboard.ts) read them.
 * A metric is identified by its namespace, name and exact dimension set, so both sides take
 * them from here.
 */
export const METRICS_NAMESPACE = 'GitGeo';
/** One service for every function: the `service` dimension stays the same whichever function emits. */
export const METRICS_SERVICE = 'git-geo';
/** The replicable type of Git repositories (RepositoryState.replicable). */
export const GIT_TYPE = 'git';

export const METRIC = {
  /** Change events: recorded by notify (the primary region), received by sync (each secondary). */
  eventsReceived: 'EventsReceived',
  /** Every sync outcome, with Outcome and Cause dimensions besides Region and Type. */
  syncOutcome: 'SyncOutcome',
  syncsSucceeded: 'SyncsSucceeded',
  syncsFailedTransient: 'SyncsFailedTransient',
  syncsFailedPermanently: 'SyncsFailedPermanently',
  /** Push (webhook receipt) to synced, milliseconds, one value per event a sync covered. */
  replicationLag: 'ReplicationLag',
  bytesFetched: 'BytesFetched',
  verificationsPassed: 'VerificationsPassed',
  /** Verification found damage (a repair was requested, or repairs are used up). */
  verificationsFailed: 'VerificationsFailed',
  repairsGivenUp: 'RepairsGivenUp',
  requestsServedLocally: 'RequestsServedLocally',
  requestsRedirected: 'RequestsRedirected',
  requestsRefused: 'RequestsRefused',
  requestsFailed: 'RequestsFailed',
  /** Syncs found stuck in `started` by the watchdog (each minute). */
  stuckSyncs: 'StuckSyncs',
  /** One per completed backup run: its absence for two intervals is the alarm. */
  backupsCompleted: 'BackupsCompleted',
} as const;
export type MetricName = (typeof METRIC)[keyof typeof METRIC];

/** The dimension set of every metric above (SyncOutcome adds Outcome and Cause). */
export function metricDimensions(region: string, type: string = GIT_TYPE): Record<string, string> {
  return { service: METRICS_SERVICE, Region: region, Type: type };
}

/** The Powertools Metrics of a function running in `region`: namespace, service, Region and Type set once. */
export function geoMetrics(region: string, type: string = GIT_TYPE): Metrics {
  const { service: _service, ...dimensions } = metricDimensions(region, type);
  return new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE, defaultDimensions: dimensions });
}

/** Per-type item metrics: one name each, the replicable type in the `Type` dimension (`lfs-object`, `wiki`, ...). */
export const ITEM_METRIC = {
  /** Items copied into the region's bucket (blob types), or repositories of a type synced. */
  replicated: 'ItemsReplicated',
  replicatedBytes: 'ItemBytesReplicated',
  /** Items verification found right. */
  verified: 'ItemsVerified',
  /** Items verification found wrong or missing and copied again. */
  repaired: 'ItemsRepaired',
  /** Items that could not be copied or repaired (missing on the primary, still wrong). */
  failed: 'ItemsFailed',
} as const;

const typeMetrics = new Map<string, Metrics>();
/** Publishes one metric at once with `Type` set to a replicable type (the function's own metrics keep theirs). */
export function addTypeMetric(region: string, type: string, name: (typeof ITEM_METRIC)[keyof typeof ITEM_METRIC], unit: (typeof MetricUnit)[keyof typeof MetricUnit], value: number): void {
  const key = `${region}\u0000${type}`;
  let metrics = typeMetrics.get(key);
  if (metrics === undefined) {
    const { service: _service, ...dimensions } = metricDimensions(region, type);
    metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: METRICS_SERVICE, defaultDimensions: dimensions, singleMetric: true });
    typeMetrics.set(key, metrics);
  }
  metrics.addMetric(name, unit, value);
}

/** A sync's outcome by cause: a metric of its own (its Outcome and Cause dimensions differ from the batch's). */
export function addSyncOutcome(metrics: Metrics, outcome: 'synced' | 'covered' | 'deleted' | 'postponed' | 'failed-transient' | 'failed-permanent' | 'excluded' | 'moved', cause: string): void {
  const single = metrics.singleMetric();
  single.addDimension('Outcome', outcome).addDimension('Cause', cause);
  single.addMetric(METRIC.syncOutcome, MetricUnit.Count, 1);
}

/**
 * The cause of a failure as the registry records it (lastError.code): the wrapped error's code
 * when a GeoError carries one as its cause, else the error's own, else ERR_INTERNAL.
 */
export function causeCode(error: unknown): string {
  if (error instanceof GeoError && error.cause instanceof GeoError) return error.cause.code;
  return error instanceof GeoError ? error.code : 'ERR_INTERNAL';
}

export { MetricUnit };
