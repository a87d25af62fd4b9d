import { describe, expect, it } from '@jest/globals';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../cdk/constructs/GeoFunction.ts';
import { HANDLER_FACTORY_METADATA } from '../../cdk/constructs/localMetadata.ts';
import { buildTestApp } from './testApp.ts';

describe('buildApp', () => {
  it('adding a secondary region adds exactly one region stack and changes nothing else', () => {
    const two = buildTestApp({ secondaryRegions: ['eu-west-1', 'ap-southeast-2'] });
    const three = buildTestApp({ secondaryRegions: ['eu-west-1', 'ap-southeast-2', 'ca-central-1'] });
    try {
      const stackNames = (app: typeof two): string[] => app.app.node.children.filter(Stack.isStack).map((stack) => stack.stackName);
      expect(stackNames(two)).toEqual(['GitGeo-Primary', 'GitGeo-Region-eu-west-1', 'GitGeo-Region-ap-southeast-2']);
      expect(stackNames(three)).toEqual([...stackNames(two), 'GitGeo-Region-ca-central-1']);
      expect(three.regions.get('ca-central-1')?.region).toBe('ca-central-1');

      // The one dashboard has a row per region, and each status page lists every region: nothing else changes.
      const withoutRegionLists = (stack: Stack): unknown => {
        const json = Template.fromStack(stack).toJSON() as { Resources: Record<string, { Type: string }> };
        const listsRegions = (logicalId: string, type: string): boolean => type === 'AWS::CloudWatch::Dashboard' || logicalId.startsWith('StatusPage');
        return { ...json, Resources: Object.fromEntries(Object.entries(json.Resources).filter(([logicalId, resource]) => !listsRegions(logicalId, resource.Type))) };
      };
      expect(withoutRegionLists(three.primary)).toEqual(withoutRegionLists(two.primary));
      for (const region of two.regions.keys()) {
        expect(withoutRegionLists(three.regions.get(region)!)).toEqual(withoutRegionLists(two.regions.get(region)!));
      }
    } finally {
      two.remove();
      three.remove();
    }
  });

  it('every Lambda function names a handler factory that exists on disk and exports a function of that name', async () => {
    const geo = buildTestApp();
    try {
      const factories: string[] = [];
      for (const stack of [geo.primary, ...geo.regions.values()]) {
        const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function') as Record<string, { Metadata?: Record<string, unknown> }>;
        expect(Object.keys(functions).length).toBeGreaterThan(0);
        for (const [logicalId, fn] of Object.entries(functions)) {
          const factory = fn.Metadata?.[HANDLER_FACTORY_METADATA];
          expect({ logicalId, factory }).toEqual({ logicalId, factory: expect.stringMatching(/^[\w/.-]+\.ts#\w+$/) });
          factories.push(factory as string);
        }
      }
      expect(HANDLER_FACTORY_METADATA).toBe('git-geo:handler-factory');
      expect(new Set(factories)).toEqual(
        new Set([
          'lambdas/backup/createBackupHandler.ts#createBackupHandler',
          'lambdas/notify/createNotifyHandler.ts#createNotifyHandler',
          'lambdas/republish/createRepublishHandler.ts#createRepublishHandler',
          'lambdas/sync/createSyncHandler.ts#createSyncHandler',
          'lambdas/endpoint/createEndpointHandler.ts#createEndpointHandler',
          'lambdas/verify/createVerifyHandler.ts#createVerifyHandler',
          'lambdas/backfill/createBackfillHandler.ts#createBackfillHandler',
          'lambdas/announce/createAnnounceHandler.ts#createAnnounceHandler',
          'lambdas/status/createStatusHandler.ts#createStatusHandler',
        ]),
      );
      for (const factory of new Set(factories)) {
        const [modulePath, exportName] = factory.split('#') as [string, string];
        const file = join(PROJECT_ROOT, modulePath);
        expect(existsSync(file)).toBe(true);
        const loaded = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
        expect({ factory, type: typeof loaded[exportName] }).toEqual({ factory, type: 'function' });
      }
    } finally {
      geo.remove();
    }
  });
});
