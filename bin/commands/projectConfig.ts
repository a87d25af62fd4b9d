import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../cdk/projectRoot.ts';
import { parseGeoConfig, type GeoConfig, type GeoConfigInput } from '../../cdk/GeoConfig.ts';

/** The `git-geo` configuration from cdk.json's context, with command-line overrides on top. */
export function projectConfig(overrides: Partial<GeoConfigInput> = {}): GeoConfig {
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const fromFile = (cdkJson.context?.['git-geo'] ?? {}) as Partial<GeoConfigInput>;
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined));
  return parseGeoConfig({ ...fromFile, ...defined });
}

export function splitList(value: string | undefined): string[] | undefined {
  return value === undefined ? undefined : value.split(',').map((item) => item.trim()).filter(Boolean);
}
