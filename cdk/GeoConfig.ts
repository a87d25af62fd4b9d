import * as z from 'zod';

const Region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1');
const RefNamespace = z.string().regex(/^refs\/[^\s]*\/$/, 'must look like refs/<name>/');
const HttpUrl = z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, ''));

/** A namespace (group path): `acme` or `acme/platform`; a repository is under it when its path starts with it and a slash. */
const Namespace = z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, 'must be a namespace such as acme or acme/platform');

export const SelectiveSyncRuleSchema = z.strictObject({
  include: z.array(Namespace).default([]),
  exclude: z.array(Namespace).default([]),
});
export type SelectiveSyncRuleConfig = z.infer<typeof SelectiveSyncRuleSchema>;

export const BackfillSourceSchema = z.strictObject({
  /** The listing API: GitLab projects, GitHub org/user repositories, Gitea search, or a fixed list. */
  kind: z.enum(['gitlab', 'github', 'gitea', 'static']),
  /** API base URL; defaults to the first primary URL (GitHub: https://api.github.com). */
  apiUrl: HttpUrl.optional(),
  /** GitHub: `orgs/<name>` or `users/<name>`; Gitea: an organisation (else every repository the search shows). */
  owner: z.string().regex(/^((orgs|users)\/)?[A-Za-z0-9_.-]+$/).optional(),
  /** `static`: the repository paths. */
  repositories: z.array(z.string().min(1)).default([]),
  /** Secrets Manager secret (primary region) with an API token, when the listing needs one. */
  tokenSecretName: z.string().min(1).optional(),
  /** Requests to the primary per second the backfill may cause (its listing pages and the syncs it requests). */
  requestsPerSecond: z.number().positive().max(1000).default(5),
  /** Requests it may make at once after a pause. */
  burst: z.number().int().min(1).max(1000).default(10),
});
export type BackfillSourceConfig = z.infer<typeof BackfillSourceSchema>;

const PackMaintenanceSchema = z.strictObject({
  minPacks: z.number().int().min(0).max(1000).default(8),
  factor: z.number().int().min(2).max(100).default(2),
  maxMiB: z.number().int().min(1).max(1_000_000).default(2048),
});

const BackupRetentionSchema = z.strictObject({
  hourlyForHours: z.number().int().min(0).max(24 * 31).default(24),
  dailyForDays: z.number().int().min(0).max(3660).default(30),
});

/**
 * git-geo's deployment configuration, read from the `git-geo` key of the CDK context
 * (cdk.json). Adding a region to `secondaryRegions` is all it takes to add a region.
 */
export const GeoConfigFields = z.strictObject({
  /** Prefix of every stack name, so two deployments can share an account. */
  stackPrefix: z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,40}$/).default('GitGeo'),
  /** The account to deploy to; defaults to the CLI's current account. */
  account: z.string().regex(/^\d{12}$/).optional(),
  primaryRegion: Region,
  secondaryRegions: z.array(Region).min(1),
  /** Base URL(s) of the primary Git host. The first is fetched from; all are trusted in payloads. */
  primaryUrls: z.array(HttpUrl).min(1),
  /** Secrets Manager secret (name, in the primary region) holding the shared webhook secret. */
  webhookSecretName: z.string().min(1),
  /** Secrets Manager secret (name, in the primary region) with read credentials for the primary, if it needs any. */
  primaryCredentialsSecretName: z.string().min(1).optional(),
  /** Ref namespaces every region mirrors. Heads and tags always; add refs/merge-requests/ and so on. */
  refNamespaces: z.array(RefNamespace).default(['refs/heads/', 'refs/tags/']),
  /**
   * git's `uploadpack.allowReachableSHA1InWant` for protocol v0/v1 clients of a region: they may
   * fetch any commit reachable from a mirrored ref by id, not only ref tips. Protocol v2 clients
   * may always (as with git http-backend).
   */
  allowReachableSha1InWant: z.boolean().default(true),
  /** Most sync invocations running at once in one region (SQS event source maximum concurrency). */
  syncMaxConcurrency: z.number().int().min(2).max(1000).default(10),
  /** Change events per sync invocation. */
  syncBatchSize: z.number().int().min(1).max(10).default(10),
  /** Deliveries of one change event before it goes to the dead-letter queue. */
  maxReceiveCount: z.number().int().min(1).max(1000).default(10),
  syncTimeoutSeconds: z.number().int().min(30).max(900).default(900),
  /** How long the sync waits for the primary's response headers, and then between body chunks. */
  primaryTimeoutSeconds: z.number().int().min(1).max(600).default(30),
  /**
   * At most one read of the primary per repository per region this often. A push to a repository
   * synced less than this long ago waits out the rest, and one fetch then covers every push made
   * meanwhile. Off by default: bursts coalesce anyway (a sync covers the events queued behind it),
   * and the interval adds up to its length to a hot repository's lag. An isolated push is not delayed.
   */
  minSyncIntervalSeconds: z.number().int().min(0).max(3600).default(0),
  /** First retry delay after a transient failure; it doubles with each attempt, capped at one hour. */
  syncRetryBaseSeconds: z.number().int().min(1).max(3600).default(10),
  /**
   * What a region does with the mirror of a deleted repository: `tombstone` moves it under
   * `.git-geo/tombstones/<time>/` (kept `tombstoneRetentionDays`), `remove` deletes it (the bucket's
   * versioning still keeps it `noncurrentVersionDays`). The registry says `deleted` either way.
   */
  deletedRepositories: z.enum(['tombstone', 'remove']).default('tombstone'),
  tombstoneRetentionDays: z.number().int().min(1).default(90),
  /** The republisher publishes events still unpublished this long after they were received. */
  republishAfterSeconds: z.number().int().min(0).max(3600).default(60),
  syncMemoryMiB: z.number().int().min(256).max(10_240).default(2048),
  /**
   * The sync function's /tmp (Lambda ephemeral storage): a fetched pack is spooled there while it
   * is indexed and uploaded, so it bounds the largest pack one sync can fetch (about this size,
   * less 5%). Memory no longer grows with the pack.
   */
  syncEphemeralStorageMiB: z.number().int().min(512).max(10_240).default(10_240),
  /**
   * Geometric repacking of each mirror after a sync, under its lease: once a mirror lists
   * `minPacks` packs (0: never), the packs that break a progression of `factor` are merged into
   * one, reading at most `maxMiB` of packs per sync. The count stays logarithmic in the syncs.
   */
  packMaintenance: PackMaintenanceSchema.prefault({}),
  /**
   * Bundles for `git clone --bundle-uri=<region-url>/<repo>.git/bundle`: when a sync stores a pack
   * that holds every object of the mirror's refs (a first sync, a repair, a repack that merges
   * every pack) of at least this size, it writes a bundle of it (a short header, the pack copied
   * server-side behind it). Smaller repositories get none. 0: no bundles.
   */
  bundleMinPackMiB: z.number().int().min(0).max(1_000_000).default(16),
  /** Largest webhook body accepted. */
  maxWebhookBytes: z.number().int().positive().max(6 * 1024 * 1024).default(5 * 1024 * 1024),
  /**
   * A webhook whose signed content was recorded this recently under another delivery id is a
   * replay (delivery ids are not signed): answered 200 and not recorded again. Past the window
   * the same content is recorded as a new change (at worst a sync that finds nothing new).
   */
  webhookReplayWindowSeconds: z.number().int().min(300).max(30 * 86_400).default(86_400),
  /** Change events one repository may record per second; past it notify answers 429 with Retry-After: 1 and records nothing. */
  maxEventsPerRepositoryPerSecond: z.number().int().min(1).max(1000).default(20),
  /** Days an overwritten mirror file (refs, pack lists) is kept as a noncurrent version. */
  noncurrentVersionDays: z.number().int().min(1).default(30),
  /**
   * Regions whose Git endpoint never sends clients to the primary: they serve their copy even
   * when it is behind, and refuse pushes. Every other region redirects stale reads and pushes.
   */
  readOnlyRegions: z.array(Region).default([]),
  /** After a push through a regional endpoint, reads there check their refs against the primary this long. */
  writePendingSeconds: z.number().int().min(0).max(3600).default(300),
  /**
   * How long a pre-signed pack URL a regional endpoint hands out (packfile-uris, dumb HTTP
   * redirects) stays valid; 0 sends every pack through the endpoint (and its 200 MB limit).
   */
  packUrlSeconds: z.number().int().min(0).max(7 * 24 * 3600).default(900),
  /** How long a regional endpoint trusts the primary's answer to a caller's credentials. */
  accessCacheSeconds: z.number().int().min(0).max(3600).default(60),
  /** How long the sync's finding that the primary serves a repository anonymously is trusted. */
  anonymousTrustSeconds: z.number().int().min(0).max(86_400).default(300),
  /**
   * What a region's endpoint does with a read it cannot prove fresh because the control plane
   * (notify, event log, topic) has gone quiet: `serve-stale` serves the region's copy (within
   * `stalenessBudgetSeconds`, then as a read-only copy); `redirect` sends the client to the primary Git host.
   */
  onControlPlaneLoss: z.enum(['serve-stale', 'redirect']).default('serve-stale'),
  /**
   * A secondary region that holds a standby control plane (webhook endpoint, event log, topic)
   * every region's queues also subscribe to, so `git-geo failover-control-plane --to-region` can
   * move webhooks and fan-out there when the primary region is lost. Unset: no standby.
   */
  standbyControlPlaneRegion: Region.optional(),
  /** The control plane announces itself every minute; a region that heard nothing for this long calls it lost. */
  controlPlaneLossSeconds: z.number().int().min(5).max(3600).default(180),
  /** With `serve-stale`: how long after the last announcement a region serves its copy as usual; after it, as a read-only copy. */
  stalenessBudgetSeconds: z.number().int().min(0).max(7 * 86_400).default(3600),
  /** How long sync, endpoint and notify cache the runtime primary override `git-geo promote` writes. */
  primaryOverrideCacheSeconds: z.number().int().min(0).max(300).default(5),
  /**
   * Secrets Manager secret (primary region) with credentials that may push to a host being promoted
   * (`git-geo promote`, `git-geo restore --push`); the promoted host is then read with it too.
   */
  promotionCredentialsSecretName: z.string().min(1).optional(),
  /** Minutes between point-in-time snapshots of every mirror in a region (and garbage collection). */
  backupIntervalMinutes: z.number().int().min(5).max(1440).default(60),
  /** Snapshots kept: the newest of each of the last `hourlyForHours` hours and of each of the last `dailyForDays` days. */
  backupRetention: BackupRetentionSchema.prefault({}),
  /** S3 Object Lock (governance mode) on mirror buckets for this many days; set at bucket creation only. */
  mirrorObjectLockDays: z.number().int().min(1).max(3650).optional(),
  /** Days AWS Backup keeps daily backups of the event log and the registries (besides PITR). */
  tableBackupRetentionDays: z.number().int().min(1).max(3650).default(35),
  /** How often each region's verifier runs; each run verifies the repositories that are due. */
  verifyScheduleMinutes: z.number().int().min(1).max(1440).default(60),
  /** A repository verified less than this long ago is not due again (0: every run verifies everything). */
  verifyIntervalHours: z.number().int().min(0).max(8760).default(24),
  /** Repairs (full resyncs) of a damaged mirror before it is flagged for an operator instead. */
  maxVerificationRepairs: z.number().int().min(0).max(100).default(3),
  /** Wait after a repair before verifying again; doubles with each repair. */
  verificationBackoffSeconds: z.number().int().min(1).max(86_400).default(300),
  /**
   * Replication lag objective: push to replicated, seconds. The p99 of synced events' lag and the
   * age of the oldest unreplicated push must stay under it; the alarms and the status page use it.
   */
  replicationLagSloSeconds: z.number().int().min(1).max(86_400).default(300),
  /**
   * SNS topic (its name, in each secondary region) that every alarm of a region notifies; subscribe
   * people or a pager to it. When unset, each region stack creates one (output AlarmTopicArn).
   */
  alarmTopicName: z.string().regex(/^[A-Za-z0-9_-]{1,256}$/, 'must be an SNS topic name').optional(),
  /** Seconds between the status page's reloads in the browser. */
  statusPageRefreshSeconds: z.number().int().min(2).max(3600).default(15),
  /** Where backfill (and a new region's onboarding) lists the primary's repositories. */
  backfill: BackfillSourceSchema.optional(),
  /**
   * Per region: which repositories it holds, by namespace. A repository is held when it is
   * under an `include` namespace (or `include` is empty) and under no `exclude` one.
   * Applied at fan-out (the region's SNS filter policy), at backfill, and by reconciliation.
   */
  selectiveSync: z.record(z.string(), SelectiveSyncRuleSchema).default({}),
});

/**
 * The whole configuration: every field (unknown keys are errors, with their path) and the rules
 * between fields. Functions parse their share with picks of `GeoConfigFields`, so each default
 * is written here once.
 */
export const GeoConfigSchema = GeoConfigFields
  .refine((config) => new Set(config.secondaryRegions).size === config.secondaryRegions.length, {
    message: 'secondaryRegions must not repeat a region',
    path: ['secondaryRegions'],
  })
  .refine((config) => config.readOnlyRegions.every((region) => config.secondaryRegions.includes(region)), {
    message: 'readOnlyRegions must be secondary regions',
    path: ['readOnlyRegions'],
  })
  .refine((config) => config.standbyControlPlaneRegion === undefined || config.secondaryRegions.includes(config.standbyControlPlaneRegion), {
    message: 'standbyControlPlaneRegion must be a secondary region',
    path: ['standbyControlPlaneRegion'],
  })
  .refine((config) => config.primaryTimeoutSeconds < config.syncTimeoutSeconds, {
    message: 'primaryTimeoutSeconds must be shorter than syncTimeoutSeconds',
    path: ['primaryTimeoutSeconds'],
  })
  .refine((config) => Object.keys(config.selectiveSync).every((region) => config.secondaryRegions.includes(region)), {
    message: 'selectiveSync keys must be secondary regions',
    path: ['selectiveSync'],
  })
  .refine((config) => config.refNamespaces.includes('refs/heads/') && config.refNamespaces.includes('refs/tags/'), {
    message: 'refNamespaces must include refs/heads/ and refs/tags/',
    path: ['refNamespaces'],
  });

export type GeoConfig = z.infer<typeof GeoConfigSchema>;
export type GeoConfigInput = z.input<typeof GeoConfigSchema>;

/** The known keys at a path of the configuration, for "did you mean" hints. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  const top = Object.keys(GeoConfigFields.shape);
  if (path.length === 0) return top;
  if (path[0] === 'backfill') return Object.keys(BackfillSourceSchema.shape);
  if (path[0] === 'selectiveSync') return Object.keys(SelectiveSyncRuleSchema.shape);
  if (path[0] === 'backupRetention') return Object.keys(BackupRetentionSchema.shape);
  if (path[0] === 'packMaintenance') return Object.keys(PackMaintenanceSchema.shape);
  return [];
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function suggestion(key: string, path: readonly PropertyKey[]): string {
  const best = knownKeys(path)
    .map((known) => ({ known, distance: editDistance(key, known) }))
    .sort((a, b) => a.distance - b.distance)[0];
  return best !== undefined && best.distance <= Math.max(2, Math.floor(key.length / 4)) ? ` (did you mean ${best.known}?)` : '';
}

/** Every problem of a failed parse, one line each, with its path under `prefix`; an unknown key is named by its own path. */
export function configProblems(error: z.ZodError, prefix = 'git-geo'): string[] {
  return error.issues.flatMap((issue) => {
    const at = [prefix, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => `${at}.${key}: unknown key${suggestion(key, issue.path)}`);
    return [`${at}: ${issue.message}`];
  });
}

/** Validates the configuration; the error lists every problem, with its path. */
export function parseGeoConfig(input: unknown): GeoConfig {
  const result = GeoConfigSchema.safeParse(input);
  if (!result.success) {
    const problems = configProblems(result.error).map((problem) => `  ${problem}`);
    throw new Error(`invalid git-geo configuration in the CDK context:\n${problems.join('\n')}`);
  }
  return result.data;
}

/** The CDK context keys git-geo reads. */
export const CONTEXT_KEYS = {
  /** The configuration: an object in cdk.json, or JSON given with `-c git-geo='{…}'` (merged over cdk.json's). */
  config: 'git-geo',
  /** Named partial configurations: `{"staging": {"secondaryRegions": ["eu-central-1"]}}`. */
  environments: 'git-geo:environments',
  /** Which of them applies: `-c git-geo:environment=staging`. */
  environment: 'git-geo:environment',
} as const;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; anything else (arrays included) is replaced. */
function mergeOver(base: unknown, override: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(override)) return override;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(override)) merged[key] = mergeOver(base[key], value);
  return merged;
}

function jsonContext(value: unknown, key: string): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as Json;
  } catch (error) {
    throw new Error(`invalid git-geo configuration: -c ${key}=… must be JSON (${(error as Error).message})`);
  }
}

/**
 * The configuration from the CDK context, as CDK users expect to set it: cdk.json's `git-geo`
 * object; then, when `git-geo:environment` names one, that entry of `git-geo:environments`;
 * then `-c git-geo='{…}'` (CDK hands it over as a string, replacing cdk.json's value, so
 * cdk.json's is passed here as `fileConfig`). Each layer merges over the one before, objects
 * key by key. The result is validated strictly.
 */
export function resolveGeoConfig(context: (key: string) => unknown, fileConfig?: unknown): GeoConfig {
  const given = context(CONTEXT_KEYS.config);
  const fromCommandLine = typeof given === 'string';
  const base = fromCommandLine ? (fileConfig ?? {}) : (given ?? fileConfig);
  const environmentName = context(CONTEXT_KEYS.environment);
  let config = base;
  if (environmentName !== undefined) {
    const environments = jsonContext(context(CONTEXT_KEYS.environments), CONTEXT_KEYS.environments) ?? {};
    if (!isPlainObject(environments)) throw new Error(`invalid git-geo configuration: ${CONTEXT_KEYS.environments} must be an object of named configurations`);
    if (typeof environmentName !== 'string') throw new Error(`invalid git-geo configuration: ${CONTEXT_KEYS.environment} must be an environment's name`);
    const name = environmentName;
    if (!(name in environments)) {
      throw new Error(`invalid git-geo configuration: no environment ${name} in ${CONTEXT_KEYS.environments} (known: ${Object.keys(environments).join(', ') || 'none'})`);
    }
    config = mergeOver(config, environments[name]);
  }
  if (fromCommandLine) config = mergeOver(config, jsonContext(given, CONTEXT_KEYS.config));
  return parseGeoConfig(config);
}
