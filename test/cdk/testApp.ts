import { App } from 'aws-cdk-lib';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type BuildAppOptions, type GeoApp } from '../../cdk/buildApp.ts';
import { parseGeoConfig, type GeoConfig, type GeoConfigInput } from '../../cdk/GeoConfig.ts';

/** The feature flags `cdk synth` reads from cdk.json: its whole context except the git-geo configuration. */
export function cdkJsonFlags(): Record<string, unknown> {
  const { context } = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
  const { 'git-geo': _configuration, ...flags } = context;
  return flags;
}

/** An App with cdk.json's feature flags and bundling skipped (handlers are not built, so synthesis is fast). */
export function testApp(props: { outdir?: string; context?: Record<string, unknown> } = {}): App {
  return new App({ outdir: props.outdir, context: { ...cdkJsonFlags(), 'aws:cdk:bundling-stacks': [], ...props.context } });
}

/** A configuration with every tunable away from its default, so the tests can see the values flow through. */
export const TEST_CONFIG: GeoConfigInput = {
  stackPrefix: 'GitGeo',
  primaryRegion: 'us-east-1',
  secondaryRegions: ['eu-west-1', 'ap-southeast-2'],
  primaryUrls: ['https://gitlab.example.com', 'https://gitlab-mirror.example.com:8443/'],
  webhookSecretName: 'git-geo/webhook-secret',
  primaryCredentialsSecretName: 'git-geo/primary-read-credentials',
  refNamespaces: ['refs/heads/', 'refs/tags/', 'refs/merge-requests/'],
  syncMaxConcurrency: 7,
  syncBatchSize: 4,
  maxReceiveCount: 5,
  syncTimeoutSeconds: 300,
  syncMemoryMiB: 1024,
  bundleMinPackMiB: 32,
  writePendingSeconds: 120,
  accessCacheSeconds: 45,
  anonymousTrustSeconds: 600,
  verifyScheduleMinutes: 30,
  verifyIntervalHours: 12,
  maxVerificationRepairs: 2,
  backfill: { kind: 'gitlab', requestsPerSecond: 3, burst: 6, tokenSecretName: 'git-geo/gitlab-api-token' },
  selectiveSync: { 'eu-west-1': { include: ['acme', 'tools'], exclude: ['legacy', 'acme/secret'] } },
};

export interface TestGeoApp extends GeoApp {
  readonly config: GeoConfig;
  /** Where the app synthesizes to; a fresh temporary directory. */
  readonly outdir: string;
  /** Deletes `outdir`. */
  remove(): void;
}

/** A fresh temporary directory for a cloud assembly. */
export function tempOutdir(): string {
  return mkdtempSync(join(tmpdir(), 'git-geo-cdk-test-'));
}

/**
 * Builds git-geo's stacks from TEST_CONFIG with `overrides`, in a fresh test App that
 * synthesizes into its own temporary directory. cdk-nag is off unless `nag` says otherwise,
 * so each template test checks one concern; test/cdk/nag.test.ts checks nag.
 */
export function buildTestApp(overrides: Partial<GeoConfigInput> = {}, options: BuildAppOptions = {}): TestGeoApp {
  const config = parseGeoConfig({ ...TEST_CONFIG, ...overrides });
  const outdir = tempOutdir();
  const geo = buildApp(config, { nag: false, ...options, app: testApp({ outdir }) });
  return { ...geo, config, outdir, remove: () => rmSync(outdir, { recursive: true, force: true }) };
}
