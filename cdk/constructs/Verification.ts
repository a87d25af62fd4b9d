import { Duration, Stack, Validations, type CfnResource } from 'aws-cdk-lib';
import { Rule, RuleTargetInput, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { VERIFIED_PACKS_PREFIX } from '../../lambdas/shared/git/verifiedPacksPrefix.ts';
import type { VerifySettings } from '../../lambdas/verify/settings.ts';
import type { ChangeQueue } from './ChangeQueue.ts';
import { GeoFunction } from './GeoFunction.ts';
import { grantLfsObjectWrites } from './grantLfsObjectWrites.ts';
import type { MirrorStore } from './MirrorStore.ts';
import type { PrimaryResources } from './PrimaryResources.ts';

export interface VerificationProps {
  readonly queue: ChangeQueue;
  readonly store: MirrorStore;
  readonly primary: PrimaryResources;
  readonly settings: z.input<typeof VerifySettings>;
  readonly memoryMiB: number;
  /** Minutes between verification runs. */
  readonly scheduleMinutes: number;
}

/**
 * The `verify` Lambda: on its schedule it verifies every due mirror, deep, and heals what it
 * finds; its watchdog schedule retries syncs stuck in `started`.
 */
export class Verification extends Construct {
  readonly function: GeoFunction;
  readonly verifySchedule: Rule;
  readonly watchdogSchedule: Rule;

  constructor(scope: Construct, id: string, props: VerificationProps) {
    super(scope, id);
    const { settings } = props;
    this.function = new GeoFunction(this, 'Verify', {
      lambda: 'verify',
      description: "git-geo: verifies this region's mirrors against their bytes and the primary, and heals them",
      timeout: Duration.minutes(15),
      memorySize: props.memoryMiB,
      settings,
    });
    props.store.grantRead(this.function);
    // Its one write to the bucket: the record of packs it has verified.
    this.function.addToRolePolicy(new PolicyStatement({ actions: ['s3:PutObject'], resources: [props.store.bucket.arnForObjects(`${VERIFIED_PACKS_PREFIX}*`)] }));
    Validations.of(this.function).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).resolve((props.store.bucket.node.defaultChild as CfnResource).logicalId) as string}.Arn>/${VERIFIED_PACKS_PREFIX}*]`,
      reason: 'Verified-pack records are keyed by repository and pack under one prefix; the verifier writes nothing else.',
    });
    // A corrupt LFS object is deleted and copied again.
    grantLfsObjectWrites(props.store.bucket, this.function);
    // Its items (and the region's copy of the primary override), and the status index it lists the due repositories from.
    // Query and BatchWriteItem: the rows of the items verification re-checks (lambdas/replicable/ItemRegistry.ts).
    props.store.grantRegistry(this.function, 'dynamodb:GetItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem');
    props.store.grantStatusIndexQuery(this.function);
    props.queue.grantSend(this.function);
    // After `git-geo promote`, mirrors are checked against the promoted host, read with the credentials the override names.
    props.primary.grantReadSecrets(this.function, [settings.primaryCredentialsSecretName, settings.promotionCredentialsSecretName]);
    this.verifySchedule = new Rule(this, 'VerifySchedule', {
      description: "git-geo: verify this region's mirrors that are due",
      schedule: Schedule.rate(Duration.minutes(props.scheduleMinutes)),
      targets: [new LambdaFunction(this.function, { event: RuleTargetInput.fromObject({ action: 'verify' }), retryAttempts: 2 })],
    });
    this.watchdogSchedule = new Rule(this, 'WatchdogSchedule', {
      description: 'git-geo: retry syncs stuck in started',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.function, { event: RuleTargetInput.fromObject({ action: 'watchdog' }), retryAttempts: 2 })],
    });
  }
}
