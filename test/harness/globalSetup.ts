import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGitServer, type GitServer } from '../../bin/local/startGitServer.ts';
import { startMoto, type MotoServer } from '../../bin/local/startMoto.ts';
import { synthesize } from '../../bin/local/synthesize.ts';
import { parseGeoConfig } from '../../cdk/GeoConfig.ts';

declare global {
  var __gitGeoTest: { moto?: MotoServer; git?: GitServer } | undefined;
}

/**
 * Starts what the whole run shares: moto on a free loopback port (unless AWS_ENDPOINT_URL
 * points at LocalStack or another endpoint) and a primary git server. Workers inherit the
 * environment set here.
 */
export default async function globalSetup(): Promise<void> {
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  // Node 20 runs the tests here; Lambda runs Node 24. The SDK's notice about Node 20 is noise in test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const state: NonNullable<typeof globalThis.__gitGeoTest> = {};
  if (process.env.AWS_ENDPOINT_URL === undefined) {
    state.moto = await startMoto();
    process.env.AWS_ENDPOINT_URL = state.moto.endpoint;
  }
  const root = mkdtempSync(join(tmpdir(), 'git-geo-primary-'));
  state.git = await startGitServer({ root });
  process.env.GIT_GEO_TEST_PRIMARY_URL = state.git.url;
  process.env.GIT_GEO_TEST_PRIMARY_ROOT = root;
  globalThis.__gitGeoTest = state;
  // Every function's bundle, built once before the workers start (a no-op while the sources are
  // unchanged): the first test's runtime would otherwise spend its hook's timeout bundling.
  await synthesize(
    parseGeoConfig({
      stackPrefix: 'GitGeoBundles',
      account: '000000000000',
      primaryRegion: 'us-east-1',
      secondaryRegions: ['eu-west-1'],
      primaryUrls: [state.git.url],
      webhookSecretName: 'git-geo/webhook-secret',
      backfill: { kind: 'gitlab' },
    }),
  );
}
