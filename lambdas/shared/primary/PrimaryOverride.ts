import { GetCommand, PutCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Where the override lives in the event log table: one item, next to its audit trail. */
export const PRIMARY_OVERRIDE_PK = 'primary';
/**
 * Where each region keeps its copy, in its registry table (no repository path starts with a
 * dot): sync and endpoint read it there, so a promotion reaches them without crossing a region.
 */
export const REGIONAL_OVERRIDE_PK = '.git-geo/primary';

/** A region's copy of the override: its registry table. */
export interface RegionalOverrideCopy {
  readonly region: string;
  readonly db: DynamoDBDocumentClient;
  readonly tableName: string;
}
const OVERRIDE_SK = 'override';
const AUDIT_PREFIX = 'audit#';

/**
 * The primary Git host the pipeline replicates from, when an operator promoted another host
 * than the configured one (`git-geo promote`). Absent: the first of `primaryUrls`.
 */
export interface PrimaryOverride {
  /** Base URL of the active primary. */
  readonly url: string;
  /** Secrets Manager secret with read credentials for it; absent: the configured one. */
  readonly credentialsSecretName?: string;
  /** The primary it replaced. */
  readonly previousUrl: string;
  /** The region whose mirrors were pushed to it. */
  readonly fromRegion: string;
  readonly promotedAt: string;
  readonly promotedBy: string;
  /** Whether every region was verified equal to the old primary first (`--planned`). */
  readonly planned: boolean;
  readonly promotionId: string;
}

/**
 * The runtime override of the primary URL: sync, endpoint and notify read it (cached for a few
 * seconds) so a promotion switches the pipeline without a redeploy. Every change is also written
 * to an append-only audit trail (who, when, from, to), in the same transaction.
 */
export class PrimaryOverrideStore {
  private cached: { value: PrimaryOverride | undefined; until: number } | undefined;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly cacheMs = 5000,
    /** Copies `set` also writes, one per region; a regional reader passes REGIONAL_OVERRIDE_PK as `partitionKey`. */
    private readonly regionalCopies: readonly RegionalOverrideCopy[] = [],
    private readonly partitionKey = PRIMARY_OVERRIDE_PK,
  ) {}

  private reading: Promise<PrimaryOverride | undefined> | undefined;

  /** A region's reader of its own copy, in its registry table. */
  static regional(db: DynamoDBDocumentClient, registryTable: string, cacheMs = 5000): PrimaryOverrideStore {
    return new PrimaryOverrideStore(db, registryTable, cacheMs, [], REGIONAL_OVERRIDE_PK);
  }

  /** The active override, read at most once per cache period (concurrent callers share one read). */
  async current(): Promise<PrimaryOverride | undefined> {
    if (this.cached !== undefined && this.cached.until > Date.now()) return this.cached.value;
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return await this.reading;
  }

  private async read(): Promise<PrimaryOverride | undefined> {
    let Item: Record<string, unknown> | undefined;
    try {
      ({ Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: this.partitionKey, sk: OVERRIDE_SK }, ConsistentRead: true })));
    } catch (error) {
      // The table is unreachable for a moment: keep using the last value read, if there is one.
      if (this.cached === undefined) throw error;
      return this.cached.value;
    }
    const value = Item === undefined || typeof Item.url !== 'string' ? undefined : (Item.override as PrimaryOverride);
    this.cached = { value, until: Date.now() + this.cacheMs };
    return value;
  }

  /** The active primary's base URL: the override's, else the configured one. */
  async url(configured: string): Promise<string> {
    return (await this.current())?.url ?? configured;
  }

  /**
   * Makes `override` the active primary and appends it to the audit trail, then writes every
   * region's copy. Every store is tried even when one is unreachable (a region down); the error
   * then names the ones that missed it, and running the promotion again completes them.
   */
  async set(override: PrimaryOverride): Promise<void> {
    const failed: { store: string; error: unknown }[] = [];
    try {
      await this.setInEventLog(override);
    } catch (error) {
      failed.push({ store: `event log ${this.tableName}`, error });
    }
    for (const copy of this.regionalCopies) {
      try {
        await copy.db.send(new PutCommand({ TableName: copy.tableName, Item: { pk: REGIONAL_OVERRIDE_PK, sk: OVERRIDE_SK, url: override.url, override } }));
      } catch (error) {
        failed.push({ store: `${copy.region} registry ${copy.tableName}`, error });
      }
    }
    this.cached = undefined;
    if (failed.length > 0) {
      throw new AggregateError(
        failed.map((failure) => failure.error),
        `the primary override reached every store but ${failed.map((failure) => failure.store).join(', ')}; run the promotion again once they are reachable`,
      );
    }
  }

  private async setInEventLog(override: PrimaryOverride): Promise<void> {
    await this.db.send(
      new TransactWriteCommand({
        TransactItems: [
          { Put: { TableName: this.tableName, Item: { pk: PRIMARY_OVERRIDE_PK, sk: OVERRIDE_SK, url: override.url, override } } },
          {
            Put: {
              TableName: this.tableName,
              Item: { pk: PRIMARY_OVERRIDE_PK, sk: `${AUDIT_PREFIX}${override.promotedAt}#${override.promotionId}`, override },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
  }

  /** Every promotion, oldest first. */
  async history(): Promise<PrimaryOverride[]> {
    const entries: PrimaryOverride[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk AND begins_with(sk, :audit)',
          ExpressionAttributeValues: { ':pk': PRIMARY_OVERRIDE_PK, ':audit': AUDIT_PREFIX },
          ExclusiveStartKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) entries.push(item.override as PrimaryOverride);
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey !== undefined);
    return entries;
  }

  /** For tests and tools: forget the cached value. */
  invalidate(): void {
    this.cached = undefined;
  }
}

