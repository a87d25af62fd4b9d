import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { updateExpression } from '../aws/updateExpression.ts';
import { updateIf } from '../aws/updateIf.ts';

/** The control item's key in the registry table: no repository path starts with a dot, and its sort key is no replicable's. */
export const REGION_CONTROL_KEY = { pk: '.git-geo/region', sk: 'control' } as const;

/** Where a backfill is: the listing's cursor and its counts. */
export interface BackfillProgress {
  readonly state: 'running' | 'complete';
  /** The selective-sync rule the backfill applies (a new rule restarts it). */
  readonly ruleVersion: string;
  /** The primary listing's next page (opaque), undefined before the first page. */
  readonly cursor?: string;
  /** Repositories listed so far, requested (included by the rule), and excluded. */
  readonly listed: number;
  readonly requested: number;
  readonly excluded: number;
  /** What the listing said the total is, when it says. */
  readonly total?: number;
  readonly startedAt: string;
  readonly updatedAt: string;
  readonly completedAt?: string;
}

/** The last run of a scheduled job (backup, verification): when it finished and what it counted. */
export interface ScheduledRun {
  readonly at: string;
  readonly counts: Readonly<Record<string, number>>;
  /** The snapshot a backup took. */
  readonly snapshotId?: string;
}

/** One region's operational state: paused or not, its backfill, the selective-sync rule its registry was reconciled with. */
export interface RegionControlState {
  readonly paused: boolean;
  readonly pausedAt?: string;
  readonly pausedBy?: string;
  readonly backfill?: BackfillProgress;
  /** The selective-sync rule the registry and mirrors last agreed with. */
  readonly reconciledRuleVersion?: string;
  readonly lastBackup?: ScheduledRun;
  readonly lastVerification?: ScheduledRun;
}

/**
 * The region's control record, one item in its registry table (never listed as a repository).
 * Written by the CLI (pause, backfill) and the region's scheduled functions.
 */
export class RegionControl {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
  ) {}

  async get(): Promise<RegionControlState> {
    const { Item } = await this.db.send(new GetCommand({ TableName: this.tableName, Key: REGION_CONTROL_KEY, ConsistentRead: true }));
    const item = (Item ?? {}) as Partial<RegionControlState>;
    return {
      paused: item.paused === true,
      ...(item.pausedAt ? { pausedAt: item.pausedAt } : {}),
      ...(item.pausedBy ? { pausedBy: item.pausedBy } : {}),
      ...(item.backfill ? { backfill: item.backfill } : {}),
      ...(item.reconciledRuleVersion ? { reconciledRuleVersion: item.reconciledRuleVersion } : {}),
      ...(item.lastBackup ? { lastBackup: item.lastBackup } : {}),
      ...(item.lastVerification ? { lastVerification: item.lastVerification } : {}),
    };
  }

  async setPaused(paused: boolean, at: string, by: string): Promise<void> {
    await this.update(updateExpression({ set: { paused, pausedAt: paused ? at : undefined, pausedBy: paused ? by : undefined }, remove: paused ? [] : ['pausedAt', 'pausedBy'] }));
  }

  async saveBackfill(progress: BackfillProgress | undefined): Promise<void> {
    await this.update(progress === undefined ? updateExpression({ remove: ['backfill'] }) : updateExpression({ set: { backfill: progress } }));
  }

  /** Records a scheduled job's last run, for the status page and `git-geo status`. */
  async saveRun(job: 'lastBackup' | 'lastVerification', run: ScheduledRun): Promise<void> {
    await this.update(updateExpression({ set: { [job]: run } }));
  }

  async saveReconciledRuleVersion(version: string): Promise<void> {
    await this.update(updateExpression({ set: { reconciledRuleVersion: version } }));
  }

  /**
   * Takes the backfill's lease: one backfill runs per region at a time (the schedule fires every
   * minute; a run may take longer). False when another run holds it.
   */
  async acquireBackfillLease(owner: string, until: string, now: string): Promise<boolean> {
    return await updateIf(this.db, {
      TableName: this.tableName,
      Key: REGION_CONTROL_KEY,
      UpdateExpression: 'SET #owner = :owner, #until = :until',
      ConditionExpression: 'attribute_not_exists(#owner) OR #until < :now OR #owner = :owner',
      ExpressionAttributeNames: { '#owner': 'backfillLeaseOwner', '#until': 'backfillLeaseUntil' },
      ExpressionAttributeValues: { ':owner': owner, ':until': until, ':now': now },
    });
  }

  async releaseBackfillLease(owner: string): Promise<void> {
    await updateIf(this.db, {
      TableName: this.tableName,
      Key: REGION_CONTROL_KEY,
      UpdateExpression: 'REMOVE #owner, #until',
      ConditionExpression: '#owner = :owner',
      ExpressionAttributeNames: { '#owner': 'backfillLeaseOwner', '#until': 'backfillLeaseUntil' },
      ExpressionAttributeValues: { ':owner': owner },
    });
  }

  private async update(update: ReturnType<typeof updateExpression>): Promise<void> {
    await this.db.send(new UpdateCommand({ TableName: this.tableName, Key: REGION_CONTROL_KEY, ...update }));
  }
}
