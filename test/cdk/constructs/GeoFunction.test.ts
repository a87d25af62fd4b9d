import { describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GEO_FUNCTION_NAMES, GeoFunction, PROJECT_ROOT, geoFunctionFiles } from '../../../cdk/constructs/GeoFunction.ts';
import { HANDLER_FACTORY_METADATA } from '../../../cdk/constructs/localMetadata.ts';
import { bareStack, environmentOf, logicalId } from './bareStack.ts';

describe('GeoFunction', () => {
  it.each(GEO_FUNCTION_NAMES)('%s: its entry and handler factory are where its name says', (name) => {
    const { entry, handlerFactory } = geoFunctionFiles(name);
    const [modulePath] = handlerFactory.split('#') as [string];
    expect([entry, modulePath].filter((file) => !existsSync(join(PROJECT_ROOT, file)))).toEqual([]);
  });

  it('derives the handler-factory metadata and the Powertools service from the name', () => {
    const stack = bareStack();
    const fn = new GeoFunction(stack, 'Fn', { lambda: 'republish', settings: {}, environment: { EXTRA: '1' } });
    const template = Template.fromStack(stack);
    const resource = template.toJSON().Resources[logicalId(fn)] as { Metadata: Record<string, unknown> };
    expect(resource.Metadata[HANDLER_FACTORY_METADATA]).toBe('lambdas/republish/createRepublishHandler.ts#createRepublishHandler');
    expect(environmentOf(template, logicalId(fn))).toMatchObject({ POWERTOOLS_SERVICE_NAME: 'git-geo-republish', EXTRA: '1' });
  });
});
