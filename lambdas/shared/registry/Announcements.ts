import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RepositoryPath } from '../repositoryPath.ts';
import { REGION_CONTROL_KEY } from './RegionControl.ts';
import { updateIf } from '../aws/updateIf.ts';

/** What a region last heard from the control plane. */
export interface ControlPlaneContact {
  /** When the newest heartbeat was sent; undefined: none heard yet. */
  readonly heardAt?: string;
  /** The region it came from (the active control plane). */
  readonly region?: string;
}

/**
 * What the control plane has announced to this region, kept in the region's own registry table
 * so its endpoint decides freshness without leaving the region: per repository the newest
 * sequence announced (`announcedSequence`, compared with the sync's `syncedSequence`), and on the
 * region's control item the newest heartbeat.
 */
export class Announcements {
  private cachedContact: { value: ControlPlaneContact; until: number } | undefined;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    readonly tableName: string,
    private readonly contactCacheMs = 5000,
    private readonly replicable = 'git',
  ) {}

  /**
   * Records that an event of `sequence` exists for the repository. Only ever raises the number,
   * so a redelivered or reordered message changes nothing. A repository never seen gets a
   * `pending` item, as a sync about to start would make.
   */
  async recordAnnounced(repository: RepositoryPath, sequence: number, at: string): Promise<boolean> {
    return await updateIf(this.db, {
      TableName: this.tableName,
      Key: { pk: repository, sk: this.replicable },
      UpdateExpression: 'SET #seq = :seq, #at = :at, #repository = if_not_exists(#repository, :repository), #replicable = if_not_exists(#replicable, :replicable), #status = if_not_exists(#status, :pending)',
      ConditionExpression: 'attribute_not_exists(#seq) OR #seq < :seq',
      ExpressionAttributeNames: { '#seq': 'announcedSequence', '#at': 'announcedAt', '#repository': 'repository', '#replicable': 'replicable', '#status': 'status' },
      ExpressionAttributeValues: { ':seq': sequence, ':at': at, ':repository': repository, ':replicable': this.replicable, ':pending': 'pending' },
    });
  }

  /**
   * Records a heartbeat of the active control plane (the one `setActiveControlPlane` named last,
   * else `primaryRegion`), unless a newer one was recorded already. A standby's heartbeats, or the
   * old primary's after a failover, are not contact: they would hide the loss of the active one.
   * Answers whether it was recorded.
   */
  async recordHeartbeat(controlPlaneRegion: string, at: string, primaryRegion: string): Promise<boolean> {
    try {
      return await updateIf(this.db, {
        TableName: this.tableName,
        Key: REGION_CONTROL_KEY,
        UpdateExpression: 'SET #heard = :at, #region = :region',
        ConditionExpression: '((attribute_not_exists(#active) AND :region = :primary) OR #active = :region) AND (attribute_not_exists(#heard) OR #heard < :at)',
        ExpressionAttributeNames: { '#heard': 'controlPlaneHeardAt', '#region': 'controlPlaneRegion', '#active': 'activeControlPlaneRegion' },
        ExpressionAttributeValues: { ':at': at, ':region': controlPlaneRegion, ':primary': primaryRegion },
      });
    } finally {
      this.cachedContact = undefined;
    }
  }

  /** Names the control plane whose heartbeats this region trusts from now on (a control-plane failover). */
  async setActiveControlPlane(region: string): Promise<void> {
    await this.db.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: REGION_CONTROL_KEY,
        UpdateExpression: 'SET #active = :region',
        ExpressionAttributeNames: { '#active': 'activeControlPlaneRegion' },
        ExpressionAttributeValues: { ':region': region },
      }),
    );
    this.cachedContact = undefined;
  }

  /** The newest heartbeat, read at most once per cache period. */
  async controlPlaneContact(): Promise<ControlPlaneContact> {
    if (this.cachedContact !== undefined && this.cachedContact.until > Date.now()) return this.cachedContact.value;
    const { Item } = await this.db.send(
      new GetCommand({
        TableName: this.tableName,
        Key: REGION_CONTROL_KEY,
        ProjectionExpression: '#heard, #region',
        ExpressionAttributeNames: { '#heard': 'controlPlaneHeardAt', '#region': 'controlPlaneRegion' },
      }),
    );
    const value: ControlPlaneContact = {
      ...(typeof Item?.controlPlaneHeardAt === 'string' ? { heardAt: Item.controlPlaneHeardAt } : {}),
      ...(typeof Item?.controlPlaneRegion === 'string' ? { region: Item.controlPlaneRegion } : {}),
    };
    this.cachedContact = { value, until: Date.now() + this.contactCacheMs };
    return value;
  }
}
