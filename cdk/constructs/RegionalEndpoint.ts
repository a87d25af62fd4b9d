import { Duration, Size } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FunctionUrlAuthType, InvokeMode, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { z } from 'zod';
import { ENDPOINT_EPHEMERAL_MIB, MAX_STREAMED_PACK_BYTES } from '../../lambdas/endpoint/limits.ts';
import type { EndpointSettings } from '../../lambdas/endpoint/settings.ts';
import { GeoFunction } from './GeoFunction.ts';
import type { MirrorStore } from './MirrorStore.ts';
import { PackDownloads } from './PackDownloads.ts';

export interface RegionalEndpointProps {
  readonly store: MirrorStore;
  readonly settings: z.input<typeof EndpointSettings>;
  /** Where `git-geo local` mounts the URL. */
  readonly localUrlPath: string;
}

/** The `endpoint` Lambda behind a streamed Function URL: it serves the region's copies to Git clients. */
export class RegionalEndpoint extends Construct {
  readonly function: GeoFunction;
  readonly url: FunctionUrl;
  readonly packDownloads: PackDownloads;

  constructor(scope: Construct, id: string, props: RegionalEndpointProps) {
    super(scope, id);
    this.function = new GeoFunction(this, 'Endpoint', {
      lambda: 'endpoint',
      localUrlPath: props.localUrlPath,
      description: "git-geo: serves this region's copies to Git clients; stale reads and pushes go to the primary",
      // 200 MB at Lambda's 2 MB/s streaming rate past the first 6 MB, with room to spare.
      timeout: Duration.seconds(300),
      memorySize: 1024,
      ephemeralStorageSize: Size.mebibytes(ENDPOINT_EPHEMERAL_MIB),
      settings: props.settings,
      environment: { MAX_PACK_BYTES: String(MAX_STREAMED_PACK_BYTES) },
    });
    props.store.grantRead(this.function);
    // Packs it builds past Lambda's fast first 6 MB go to clients by URL, from their own bucket.
    this.packDownloads = new PackDownloads(this, 'PackDownloads', { accessLogs: props.store.accessLogs });
    this.packDownloads.grantWriteAndSign(this.function);
    // Reads: repository items, announcements and the region's copy of the primary override, all in the registry.
    props.store.grantRegistry(this.function, 'dynamodb:GetItem');
    // The one write: the write-pending marker of a repository the registry already holds.
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:UpdateItem'],
        resources: [props.store.registry.tableArn],
        conditions: {
          'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['pk', 'sk', 'writePendingAt'] },
          StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
        },
      }),
    );
    // Git clients cannot sign requests with SigV4: the handler checks each caller's own
    // credentials against the primary before it serves anything. Packs can be far larger than
    // a buffered response's 6 MB, so responses are streamed.
    this.url = this.function.addFunctionUrl({ authType: FunctionUrlAuthType.NONE, invokeMode: InvokeMode.RESPONSE_STREAM });
  }
}
