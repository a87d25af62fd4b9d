import { Size, type Duration } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import type { z } from 'zod';
import type { SyncSettings } from '../../lambdas/sync/settings.ts';
import type { ChangeQueue } from './ChangeQueue.ts';
import { GeoFunction } from './GeoFunction.ts';
import { grantLfsObjectWrites } from './grantLfsObjectWrites.ts';
import type { MirrorStore } from './MirrorStore.ts';
import type { PrimaryResources } from './PrimaryResources.ts';

export interface SyncPipelineProps {
  readonly queue: ChangeQueue;
  readonly store: MirrorStore;
  readonly primary: PrimaryResources;
  /** The function's settings (cdk/functionSettings.ts). */
  readonly settings: z.input<typeof SyncSettings>;
  /** The function's timeout: the queue's visibility timeout and the repository lease. */
  readonly timeout: Duration;
  readonly memoryMiB: number;
  /** /tmp, where a fetched pack is spooled: it bounds the largest pack one sync can fetch. */
  readonly ephemeralStorageMiB: number;
  readonly batchSize: number;
  readonly maxConcurrency: number;
}

/** The `sync` Lambda behind the region's queue: it brings each changed repository's mirror up to date. */
export class SyncPipeline extends Construct {
  readonly function: GeoFunction;

  constructor(scope: Construct, id: string, props: SyncPipelineProps) {
    super(scope, id);
    const { settings } = props;
    this.function = new GeoFunction(this, 'Sync', {
      lambda: 'sync',
      description: 'git-geo: fetches changed repositories from the primary into this region',
      timeout: props.timeout,
      memorySize: props.memoryMiB,
      ephemeralStorageSize: Size.mebibytes(props.ephemeralStorageMiB),
      settings,
    });
    props.queue.addConsumer(this.function, { batchSize: props.batchSize, maxConcurrency: props.maxConcurrency });
    // Permanent failures are parked in the dead-letter queue at once, for `git-geo redrive`.
    props.queue.grantSendDeadLetters(this.function);
    props.store.grantReadWrite(this.function);
    // LFS objects stream in multipart: their keys may also abort uploads.
    grantLfsObjectWrites(props.store.bucket, this.function);
    // Its registry items, and the region's copy of the primary override `git-geo promote` writes there.
    props.store.grantRegistryReadWrite(this.function);
    // A promoted host is read with the promotion credentials when the override names them; no other secret.
    props.primary.grantReadSecrets(this.function, [settings.primaryCredentialsSecretName, settings.promotionCredentialsSecretName]);
  }
}
