import * as z from 'zod';
import { AwsEnvSchema } from './envSchemas.ts';

/**
 * The environment variables that name a function's resources. The constructs that own a
 * resource set them when they grant access to it (MirrorStore.grantRead sets MIRROR_BUCKET);
 * handlers read them with these schemas. Names are written here once.
 */
export const RESOURCE_ENV = {
  MIRROR_BUCKET: z.string().min(1),
  /** Packs the endpoint builds for one fetch, downloaded by pre-signed URL. */
  PACK_DOWNLOAD_BUCKET: z.string().min(1),
  REGISTRY_TABLE: z.string().min(1),
  QUEUE_URL: z.url(),
  DEAD_LETTER_QUEUE_URL: z.url(),
  /** The primary region's event log (read across regions by secondary functions). */
  EVENT_LOG_TABLE: z.string().min(1),
  EVENT_LOG_REGION: z.string().min(1),
  TOPIC_ARN: z.string().startsWith('arn:'),
} as const;
export type ResourceEnvName = keyof typeof RESOURCE_ENV;

/**
 * The one environment variable with a function's settings: JSON, derived from the git-geo
 * configuration by cdk/functionSettings.ts and parsed with a pick of the same schema.
 */
export const SETTINGS_ENV = 'GIT_GEO_SETTINGS';

function jsonOf<Schema extends z.ZodType>(schema: Schema) {
  return z
    .string()
    .transform((value, ctx) => {
      try {
        return JSON.parse(value) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON (the function settings cdk/functionSettings.ts writes)' });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

/** A function's environment: where AWS is, the resources it names, and its settings. */
export function functionEnvSchema<const Names extends readonly ResourceEnvName[], Settings extends z.ZodType>(resources: Names, settings: Settings) {
  const shape = Object.fromEntries(resources.map((name) => [name, RESOURCE_ENV[name]])) as { [Name in Names[number]]: (typeof RESOURCE_ENV)[Name] };
  return AwsEnvSchema.extend({ ...shape, [SETTINGS_ENV]: jsonOf(settings) });
}
