import { GetCommand, QueryCommand, TransactWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Where the override lives in the event log table: one item, next to its audit trail. */
export const PRIMARY_OVERRIDE_PK = 'primary';
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
  ) {}

  private reading: Promise<PrimaryOverride | undefined> | undefined;

  /** The active override, read at most once per cache period (concurrent callers share one read). */
  async current(): Promise<PrimaryOverride | undefined> {
    if (this.cached !== undefined && this.cached.until > Date.now()) return this.cached.value;
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return await this.reading;
  }

  private async read(): Promise<PrimaryOverride | undefined> {
    let Item: Record<string, unknown> | undefined;
    try {
      ({ Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk: PRIMARY_OVERRIDE_PK, sk: OVERRIDE_SK }, ConsistentRead: true })));
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

  /** Makes `override` the active primary and appends it to the audit trail. */
  async set(override: PrimaryOverride): Promise<void> {
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
    this.cached = undefined;
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

