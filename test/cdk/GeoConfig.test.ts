import { describe, expect, it } from '@jest/globals';
import { parseGeoConfig, resolveGeoConfig, type GeoConfigInput } from '../../cdk/GeoConfig.ts';
import { TEST_CONFIG } from './testApp.ts';

function without(key: keyof GeoConfigInput): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...TEST_CONFIG };
  delete copy[key];
  return copy;
}

describe('parseGeoConfig', () => {
  it('accepts the test configuration and fills in defaults', () => {
    const config = parseGeoConfig({
      primaryRegion: 'us-east-1',
      secondaryRegions: ['eu-west-1'],
      primaryUrls: ['https://gitlab.example.com/'],
      webhookSecretName: 'git-geo/webhook-secret',
    });
    expect(config.stackPrefix).toBe('GitGeo');
    expect(config.refNamespaces).toEqual(['refs/heads/', 'refs/tags/']);
    expect(config.primaryUrls).toEqual(['https://gitlab.example.com']);
    expect(parseGeoConfig(TEST_CONFIG).syncBatchSize).toBe(4);
  });

  it('rejects a missing primaryUrls, naming the key', () => {
    expect(() => parseGeoConfig(without('primaryUrls'))).toThrow(/git-geo\.primaryUrls:/);
  });

  it('rejects an empty primaryUrls and a URL that is not http(s)', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, primaryUrls: [] })).toThrow(/git-geo\.primaryUrls:/);
    expect(() => parseGeoConfig({ ...TEST_CONFIG, primaryUrls: ['ftp://gitlab.example.com'] })).toThrow(/git-geo\.primaryUrls\.0:/);
  });

  it('rejects a string that is not a region', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, primaryRegion: 'Europe' })).toThrow(/git-geo\.primaryRegion: must be an AWS region such as eu-west-1/);
    expect(() => parseGeoConfig({ ...TEST_CONFIG, secondaryRegions: ['eu-west-1', 'eu-west'] })).toThrow(
      /git-geo\.secondaryRegions\.1: must be an AWS region/,
    );
  });

  it('rejects duplicate secondary regions', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, secondaryRegions: ['eu-west-1', 'ap-southeast-2', 'eu-west-1'] })).toThrow(
      /git-geo\.secondaryRegions: secondaryRegions must not repeat a region/,
    );
  });

  it('rejects a read-only region that is not a secondary region', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, readOnlyRegions: ['us-west-2'] })).toThrow(
      /git-geo\.readOnlyRegions: readOnlyRegions must be secondary regions/,
    );
    expect(parseGeoConfig({ ...TEST_CONFIG, readOnlyRegions: ['eu-west-1'] }).readOnlyRegions).toEqual(['eu-west-1']);
    expect(parseGeoConfig(TEST_CONFIG).readOnlyRegions).toEqual([]);
  });

  it('rejects refNamespaces without refs/heads/', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, refNamespaces: ['refs/tags/'] })).toThrow(
      /git-geo\.refNamespaces: refNamespaces must include refs\/heads\/ and refs\/tags\//,
    );
  });

  it('rejects a ref namespace that is not refs/<name>/', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, refNamespaces: ['refs/heads/', 'refs/tags/', 'refs/pull'] })).toThrow(
      /git-geo\.refNamespaces\.2: must look like refs\/<name>\//,
    );
  });

  it('starts every message the same way, so it is clear where the problem is', () => {
    expect(() => parseGeoConfig(undefined)).toThrow(/^invalid git-geo configuration in the CDK context:/);
  });

  it('failure handling defaults: tombstones kept 90 days, 30 s primary timeout, 10 s first retry, republish after 60 s, no minimum interval between syncs', () => {
    const config = parseGeoConfig(TEST_CONFIG);
    expect(config).toMatchObject({
      deletedRepositories: 'tombstone',
      tombstoneRetentionDays: 90,
      primaryTimeoutSeconds: 30,
      syncRetryBaseSeconds: 10,
      republishAfterSeconds: 60,
      minSyncIntervalSeconds: 0,
    });
  });

  it('rejects an unknown deletion policy and a primary timeout not shorter than the sync timeout', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, deletedRepositories: 'shred' as never })).toThrow(/git-geo\.deletedRepositories:/);
    expect(() => parseGeoConfig({ ...TEST_CONFIG, syncTimeoutSeconds: 60, primaryTimeoutSeconds: 60 })).toThrow(
      /git-geo\.primaryTimeoutSeconds: primaryTimeoutSeconds must be shorter than syncTimeoutSeconds/,
    );
  });

  it('an unknown key is an error naming its path, with the key it was probably meant to be', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, mirrorObjectLockDay: 30 })).toThrow(/git-geo\.mirrorObjectLockDay: unknown key \(did you mean mirrorObjectLockDays\?\)/);
    expect(() => parseGeoConfig({ ...TEST_CONFIG, backfill: { kind: 'gitlab', requestPerSecond: 3 } })).toThrow(/git-geo\.backfill\.requestPerSecond: unknown key \(did you mean requestsPerSecond\?\)/);
    expect(() => parseGeoConfig({ ...TEST_CONFIG, selectiveSync: { 'eu-west-1': { includes: ['acme'] } } })).toThrow(/git-geo\.selectiveSync\.eu-west-1\.includes: unknown key/);
    expect(() => parseGeoConfig({ ...TEST_CONFIG, backupRetention: { hourly: 3 } })).toThrow(/git-geo\.backupRetention\.hourly: unknown key/);
  });

  it('a wrong type is an error naming its path and the expected type', () => {
    expect(() => parseGeoConfig({ ...TEST_CONFIG, syncBatchSize: '4' })).toThrow(/git-geo\.syncBatchSize: Invalid input: expected number, received string/);
    expect(() => parseGeoConfig({ ...TEST_CONFIG, secondaryRegions: 'eu-west-1' })).toThrow(/git-geo\.secondaryRegions: Invalid input: expected array/);
  });
});

describe('resolveGeoConfig: the configuration from the CDK context', () => {
  const base = { ...TEST_CONFIG, backfill: undefined, selectiveSync: {} };
  const context = (values: Record<string, unknown>) => (key: string): unknown => values[key];

  it("cdk.json's object as it is", () => {
    expect(resolveGeoConfig(context({ 'git-geo': base })).syncBatchSize).toBe(4);
  });

  it('a per-environment override: git-geo:environment names an entry of git-geo:environments, merged over the base', () => {
    const environments = { staging: { secondaryRegions: ['eu-central-1'], syncMaxConcurrency: 2, backupRetention: { dailyForDays: 3 } }, production: {} };
    const staging = resolveGeoConfig(context({ 'git-geo': base, 'git-geo:environments': environments, 'git-geo:environment': 'staging' }));
    expect(staging.secondaryRegions).toEqual(['eu-central-1']);
    expect(staging.syncMaxConcurrency).toBe(2);
    // Objects merge key by key: the other retention keeps its default.
    expect(staging.backupRetention).toEqual({ hourlyForHours: 24, dailyForDays: 3 });
    expect(staging.primaryUrls).toEqual(['https://gitlab.example.com', 'https://gitlab-mirror.example.com:8443']);
    expect(() => resolveGeoConfig(context({ 'git-geo': base, 'git-geo:environments': environments, 'git-geo:environment': 'qa' }))).toThrow(
      /no environment qa in git-geo:environments \(known: staging, production\)/,
    );
    // An override is validated as strictly as the base.
    expect(() => resolveGeoConfig(context({ 'git-geo': base, 'git-geo:environments': { staging: { syncMaxConcurency: 2 } }, 'git-geo:environment': 'staging' }))).toThrow(
      /git-geo\.syncMaxConcurency: unknown key \(did you mean syncMaxConcurrency\?\)/,
    );
  });

  it("-c git-geo='{…}' (a string, as the CDK CLI passes it) is merged over cdk.json's object", () => {
    const config = resolveGeoConfig(context({ 'git-geo': JSON.stringify({ secondaryRegions: ['us-west-2'], syncBatchSize: 2 }) }), base);
    expect(config.secondaryRegions).toEqual(['us-west-2']);
    expect(config.syncBatchSize).toBe(2);
    expect(config.webhookSecretName).toBe('git-geo/webhook-secret');
    expect(() => resolveGeoConfig(context({ 'git-geo': '{"secondaryRegions": [' }), base)).toThrow(/-c git-geo=… must be JSON/);
  });
});
