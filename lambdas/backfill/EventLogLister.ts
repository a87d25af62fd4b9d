import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RepositoryLister, RepositoryPage } from './RepositoryLister.ts';

const PAGE_ITEMS = 500;

/**
 * Lists the repositories the primary's event log knows (one head item per repository that
 * has ever had an event), a page at a time. It is backfill's source when no host listing is
 * configured, so a new region fills itself with any Git host and the shipped configuration.
 * A scan of the event log: it runs once per new region (the backfill then says complete).
 */
export class EventLogLister implements RepositoryLister {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async listPage(cursor: string | undefined): Promise<RepositoryPage> {
    const page = await this.db.send(
      new ScanCommand({
        TableName: this.tableName,
        FilterExpression: 'sk = :head AND begins_with(pk, :repo)',
        ProjectionExpression: 'pk',
        ExpressionAttributeValues: { ':head': 'head', ':repo': 'repo#' },
        Limit: PAGE_ITEMS,
        ...(cursor === undefined ? {} : { ExclusiveStartKey: JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Record<string, unknown> }),
      }),
    );
    const repositories = (page.Items ?? []).map((item) => String(item.pk).slice('repo#'.length)).sort();
    const next = page.LastEvaluatedKey === undefined ? undefined : Buffer.from(JSON.stringify(page.LastEvaluatedKey)).toString('base64url');
    return { repositories, ...(next === undefined ? {} : { next }) };
  }
}
