import { App, Aspects, type IAspect } from 'aws-cdk-lib';
import type { CloudFormationStackArtifact } from 'aws-cdk-lib/cx-api';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../../cdk/buildApp.ts';
import { PROJECT_ROOT } from '../../cdk/constructs/GeoFunction.ts';
import type { GeoConfig } from '../../cdk/GeoConfig.ts';
import { functionBundles } from './functionBundles.ts';
import type { CfnTemplate, SynthesizedStack } from './LocalResources.ts';

function dependencyOrder(stacks: readonly CloudFormationStackArtifact[]): CloudFormationStackArtifact[] {
  const sorted: CloudFormationStackArtifact[] = [];
  const seen = new Set<string>();
  const visit = (stack: CloudFormationStackArtifact): void => {
    if (seen.has(stack.id)) return;
    seen.add(stack.id);
    for (const dependency of stack.dependencies) {
      const found = stacks.find((candidate) => candidate.id === dependency.id);
      if (found) visit(found);
    }
    sorted.push(stack);
  };
  stacks.forEach(visit);
  return sorted;
}

/**
 * Synthesizes the CDK app in-process, exactly as `cdk synth` would, and answers its stacks in
 * deployment order with each function's esbuild bundle, the code `cdk deploy` would upload.
 * The templates come from a synth without bundling; the bundles from one with it, cached by
 * the fingerprint of their sources (see functionBundles), as bundling takes tens of seconds.
 */
export async function synthesize(config: GeoConfig, aspects: readonly IAspect[] = []): Promise<SynthesizedStack[]> {
  const outdir = mkdtempSync(join(tmpdir(), 'git-geo-synth-'));
  try {
    // The same feature flags `cdk synth` reads from cdk.json; the git-geo key comes from `config`.
    const { context } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };
    const { 'git-geo': _fromFile, ...flags } = context;
    const app = new App({ outdir, context: { ...flags, 'aws:cdk:bundling-stacks': [] } });
    buildApp(config, { app });
    for (const aspect of aspects) Aspects.of(app).add(aspect);
    const stacks = dependencyOrder(app.synth().stacks);
    const bundles = await functionBundles(config, flags, stacks.map((stack) => stack.template as CfnTemplate));
    return stacks.map((stack) => ({
      stackName: stack.stackName,
      region: stack.environment.region,
      template: stack.template as CfnTemplate,
      bundles,
    }));
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
