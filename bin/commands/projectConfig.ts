import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../cdk/projectRoot.ts';
import { CONTEXT_KEYS, resolveGeoConfig, type GeoConfig, type GeoConfigInput } from '../../cdk/GeoConfig.ts';

/**
 * The `git-geo` configuration as `cdk synth` resolves it from cdk.json's context (with the
 * environment GIT_GEO_ENVIRONMENT names, as `-c git-geo:environment=…` would), with
 * command-line overrides merged on top as `-c git-geo='{…}'` would be.
 */
export function projectConfig(overrides: Partial<GeoConfigInput> = {}): GeoConfig {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const context = cdkJson.context ?? {};
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  return resolveGeoConfig((key) => {
    if (key === CONTEXT_KEYS.config) return JSON.stringify(defined);
    if (key === CONTEXT_KEYS.environment) return process.env.GIT_GEO_ENVIRONMENT ?? context[key];
    return context[key];
  }, context[CONTEXT_KEYS.config]);
}

export function splitList(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((item) => item.trim()).filter(Boolean);
}
