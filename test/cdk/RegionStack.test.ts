import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { readFileSync } from 'node:fs';
import { parseGeoConfig } from '../../cdk/GeoConfig.ts';
import { buildApp } from '../../cdk/buildApp.ts';
import type { RegionStack } from '../../cdk/RegionStack.ts';
import { logicalId, settingsOf } from './constructs/bareStack.ts';
import { actionsOf, functionRoleId, resourcesOf, roleStatements } from './policyStatements.ts';
import { buildTestApp, testApp, tempOutdir, type TestGeoApp } from './testApp.ts';

/** RegionStack wires one construct per concern (each has its own test in test/cdk/constructs/): these check the wiring. */
describe('RegionStack', () => {
  let geo: TestGeoApp;
  let region: RegionStack;
  let template: Template;

  beforeAll(() => {
    geo = buildTestApp({ primaryTimeoutSeconds: 7, readOnlyRegions: ['ap-southeast-2'] });
    region = geo.regions.get('eu-west-1')!;
    template = Template.fromStack(region);
  });
  afterAll(() => geo.remove());

  it('one stack per secondary region, each in its region, deployed after the primary', () => {
    expect([...geo.regions.keys()]).toEqual(['eu-west-1', 'ap-southeast-2']);
    for (const [name, stack] of geo.regions) {
      expect(stack.region).toBe(name);
      expect(stack.stackName).toBe(`GitGeo-Region-${name}`);
      expect(stack.dependencies).toContain(geo.primary);
    }
  });

  it('seven functions, each with its settings in one environment variable and no source maps on the hot path', () => {
    // sync, verify, backfill, endpoint, backup, announce, and the status page.
    const functions = template.findResources('AWS::Lambda::Function');
    expect(Object.keys(functions)).toHaveLength(7);
    for (const fn of Object.values(functions) as { Properties: { Environment: { Variables: Record<string, string> } } }[]) {
      expect(() => JSON.parse(fn.Properties.Environment.Variables.GIT_GEO_SETTINGS!) as unknown).not.toThrow();
      expect(fn.Properties.Environment.Variables.NODE_OPTIONS).toBeUndefined();
    }
  });

  it('primaryTimeoutSeconds reaches every function that talks to the primary, the endpoint included', () => {
    for (const fn of [region.sync, region.verify, region.endpoint]) expect(settingsOf(template, logicalId(fn)).primaryTimeoutSeconds).toBe(7);
  });

  it('the settings carry the configuration: ref namespaces, lease, repair cap, endpoint caches, control-plane loss, pack maintenance', () => {
    expect(settingsOf(template, logicalId(region.sync))).toMatchObject({
      refNamespaces: geo.config.refNamespaces,
      syncTimeoutSeconds: 300,
      primaryCredentialsSecretName: 'git-geo/primary-read-credentials',
      packMaintenance: { minPacks: 8, factor: 2, maxMiB: 2048 },
    });
    expect(settingsOf(template, logicalId(region.verify))).toMatchObject({ verifyIntervalHours: 12, maxVerificationRepairs: 2, syncTimeoutSeconds: 300 });
    expect(settingsOf(template, logicalId(region.endpoint))).toMatchObject({
      allowReachableSha1InWant: true,
      writePendingSeconds: 120,
      accessCacheSeconds: 45,
      anonymousTrustSeconds: 600,
      readMode: 'redirect',
      onControlPlaneLoss: 'serve-stale',
      controlPlaneLossSeconds: 180,
      stalenessBudgetSeconds: 3600,
      packUrlSeconds: 900,
    });
  });

  it('the endpoint keeps packs in 4 GiB of /tmp, within which its pack cache stays, so memory does not grow with a repository', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { EphemeralStorage: { Size: 4096 }, Environment: { Variables: Match.objectLike({ MAX_PACK_BYTES: String(190 * 2 ** 20) }) } });
    expect(settingsOf(template, logicalId(region.endpoint)).packCacheBytes).toBe(3584 * 2 ** 20);
  });

  it('sync spools packs to a /tmp of syncEphemeralStorageMiB and gets the pack maintenance policy, defaults filled from the schema', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { EphemeralStorage: { Size: 10_240 }, Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'git-geo-sync' }) } });
    const other = buildTestApp({ syncEphemeralStorageMiB: 2048, packMaintenance: { minPacks: 0 } });
    try {
      const otherRegion = other.regions.get('eu-west-1')!;
      const otherTemplate = Template.fromStack(otherRegion);
      otherTemplate.hasResourceProperties('AWS::Lambda::Function', { EphemeralStorage: { Size: 2048 }, Environment: { Variables: Match.objectLike({ POWERTOOLS_SERVICE_NAME: 'git-geo-sync' }) } });
      expect(settingsOf(otherTemplate, logicalId(otherRegion.sync)).packMaintenance).toEqual({ minPacks: 0, factor: 2, maxMiB: 2048 });
    } finally {
      other.remove();
    }
  });

  it('a region listed in readOnlyRegions runs its endpoint read-only; the others redirect', () => {
    const other = geo.regions.get('ap-southeast-2')!;
    expect(settingsOf(Template.fromStack(other), logicalId(other.endpoint)).readMode).toBe('read-only');
  });

  it("the region's selective-sync rule reaches its subscription, sync and backfill; a region without one holds everything", () => {
    const rule = { include: ['acme', 'tools'], exclude: ['legacy', 'acme/secret'] };
    expect(settingsOf(template, logicalId(region.sync)).selectiveSyncRule).toEqual(rule);
    expect(settingsOf(template, logicalId(region.backfill)).selectiveSyncRule).toEqual(rule);
    template.hasResourceProperties('AWS::SNS::Subscription', { FilterPolicy: { repository: [{ prefix: 'acme/' }, { prefix: 'tools/' }], namespace: [{ 'anything-but': ['legacy'] }] } });
    const other = geo.regions.get('ap-southeast-2')!;
    expect(settingsOf(Template.fromStack(other), logicalId(other.sync)).selectiveSyncRule).toBeUndefined();
  });

  it('the stateful resources keep the logical ids they had before the constructs, so an upgrade replaces none', () => {
    const ids = Object.keys(template.toJSON().Resources as object);
    for (const id of ['AccessLogs8B620ECA', 'MirrorsAD121086', 'Registry4DB9CCA5', 'ChangeEvents05658DD8', 'ChangeEventsDeadLetters70F2FB9D', 'RegistryBackupsVaultA4B76048']) {
      expect(ids).toContain(id);
    }
  });

  it('outputs what the CLI and the local runtime read', () => {
    const outputs = Object.keys(template.toJSON().Outputs as object);
    expect(outputs).toEqual(
      expect.arrayContaining(['GitEndpointUrl', 'MirrorBucket', 'RegistryTable', 'QueueUrl', 'DeadLetterQueueUrl', 'SyncFunctionName', 'VerifyFunctionName', 'BackfillFunctionName', 'AlarmTopicArn', 'StatusPageUrl']),
    );
  });

  it('the endpoint reads nothing outside its own region, and has no secrets, queues or topics (it asks the primary with the caller\'s own credentials)', () => {
    const statements = roleStatements(template, functionRoleId(template, logicalId(region.endpoint)));
    const resources = statements.flatMap(resourcesOf).map((resource) => JSON.stringify(resource));
    expect(resources.filter((resource) => resource.includes('us-east-1') || resource.includes('EventLog'))).toEqual([]);
    const actions = statements.flatMap(actionsOf);
    expect(actions.filter((action) => /^(secretsmanager|sqs|sns|kms):/.test(action))).toEqual([]);
    for (const action of actions) expect(action).not.toMatch(/\*/);
  });

  it('a new region fills itself with the shipped cdk.json: every region has its onboarding function and schedule', () => {
    const { context } = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> };
    const shipped = buildApp(parseGeoConfig(context['git-geo']), { nag: false, app: testApp({ outdir: tempOutdir() }) });
    for (const stack of shipped.regions.values()) {
      const shippedTemplate = Template.fromStack(stack);
      const id = logicalId(stack.backfill);
      // No host listing configured: the event log's repositories are listed, which its role may scan.
      expect(settingsOf(shippedTemplate, id).backfill).toBeUndefined();
      const statements = roleStatements(shippedTemplate, functionRoleId(shippedTemplate, id));
      expect(statements.filter((statement) => actionsOf(statement).includes('dynamodb:Scan')).map((statement) => JSON.stringify(statement.Resource))).toContainEqual(
        expect.stringContaining('table/GitGeo-Primary-EventLog'),
      );
      shippedTemplate.hasOutput('BackfillFunctionName', { Value: { Ref: id } });
      expect(Object.values(shippedTemplate.findResources('AWS::Events::Rule')).some((rule) => JSON.stringify(rule).includes(id))).toBe(true);
    }
  });
});
