import { describe, expect, it } from '@jest/globals';
import { parseGeoConfig, type GeoConfigInput } from '../../cdk/GeoConfig.ts';
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
});
