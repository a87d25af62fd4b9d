import { describe, expect, it } from '@jest/globals';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GeoFunction } from '../../cdk/constructs/GeoFunction.ts';
import { BUNDLE_INDEX, bundleFiles, bundleFunction, startupFiles } from '../../cdk/functionBundle.ts';
import { testApp } from './testApp.ts';

/** The packages whose sources went into an output file, from its source map. */
function packagesIn(file: string): Set<string> {
  const { sources } = JSON.parse(readFileSync(`${file}.map`, 'utf8')) as { sources: string[] };
  return new Set(sources.map((source) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(source)?.[1] ?? 'git-geo'));
}

function union(sets: readonly Set<string>[]): Set<string> {
  return new Set(sets.flatMap((set) => [...set]));
}

describe('function bundles', () => {
  it("split at dynamic imports: the endpoint's cold start loads neither isomorphic-git nor the SDK's SSO credentials", () => {
    const outputDir = mkdtempSync(join(tmpdir(), 'git-geo-bundle-test-'));
    try {
      bundleFunction('lambdas/endpoint/index.ts', outputDir);
      const startup = startupFiles(outputDir);
      const lazy = bundleFiles(outputDir).filter((file) => !startup.includes(file));
      const atStartup = union(startup.map(packagesIn));
      const onDemand = union(lazy.map(packagesIn));

      expect(startup[0]).toBe(resolve(outputDir, BUNDLE_INDEX));
      expect([...atStartup]).toEqual(expect.arrayContaining(['git-geo', '@aws-sdk/client-s3', '@aws-sdk/client-dynamodb']));
      for (const deferred of ['isomorphic-git', 'pako', '@aws-sdk/credential-provider-sso']) {
        expect({ deferred, atStartup: atStartup.has(deferred), onDemand: onDemand.has(deferred) }).toEqual({ deferred, atStartup: false, onDemand: true });
      }
    } finally {
      rmSync(outputDir, { recursive: true, force: true });
    }
  });

  it('builds each function from its own entry when two are synthesized with bundling in one stack', () => {
    const stack = new Stack(testApp({ context: { 'aws:cdk:bundling-stacks': ['**'] } }), 'Bundled', { env: { account: '123456789012', region: 'eu-west-1' } });
    new GeoFunction(stack, 'Announce', { lambda: 'announce', settings: {} });
    new GeoFunction(stack, 'Republish', { lambda: 'republish', settings: {} });
    const functions = Template.fromStack(stack).findResources('AWS::Lambda::Function') as Record<string, { Properties: { Code: { S3Key: string } } }>;
    const keys = Object.values(functions).map((fn) => fn.Properties.Code.S3Key);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
  });
});
