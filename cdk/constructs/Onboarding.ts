import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { Construct } from 'constructs';
import type { z } from 'zod';
import type { BackfillSettings } from '../../lambdas/backfill/settings.ts';
import type { ChangeQueue } from './ChangeQueue.ts';
import { GeoFunction } from './GeoFunction.ts';
import type { MirrorStore } from './MirrorStore.ts';
import type { PrimaryResources } from './PrimaryResources.ts';

export interface OnboardingProps {
  readonly queue: ChangeQueue;
  readonly store: MirrorStore;
  readonly primary: PrimaryResources;
  readonly settings: z.input<typeof BackfillSettings>;
}

/**
 * The `backfill` Lambda, run every minute in every region: a new region fills itself from the
 * primary's repository listing until complete, and a changed selective-sync rule is applied
 * (what it now excludes is removed). Later runs find both done and stop at one read.
 */
export class Onboarding extends Construct {
  readonly function: GeoFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: OnboardingProps) {
    super(scope, id);
    const { settings } = props;
    this.function = new GeoFunction(this, 'Backfill', {
      lambda: 'backfill',
      description: "git-geo: backfills this region from the primary's repository listing and applies its selective-sync rule",
      timeout: Duration.minutes(15),
      settings,
    });
    // Reconciliation deletes excluded mirrors: read-write on the bucket.
    props.store.grantReadWrite(this.function);
    // Query and BatchWriteItem: the rows of an excluded repository's items (lambdas/replicable/ItemRegistry.ts).
    props.store.grantRegistry(this.function, 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem');
    props.store.grantStatusIndexQuery(this.function);
    props.queue.grantSend(this.function);
    // After `git-geo promote`, the listing is read from the promoted host (unless an API URL is configured): the region's copy of the override is a registry item.
    props.primary.grantReadSecrets(this.function, [settings.backfill?.tokenSecretName]);
    // Without a host listing, the repositories the event log knows are listed (once, when the region is new).
    if (settings.backfill === undefined) props.primary.grantScanEventLog(this.function);
    this.schedule = new Rule(this, 'Schedule', {
      description: 'git-geo: backfill this region until complete; apply selective-sync rule changes',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.function, { retryAttempts: 2 })],
    });
  }
}
