import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { ConfigurationError } from '../shared/errors/index.ts';
import { createRepositoryLister, type RepositoryLister } from './RepositoryLister.ts';

/** The backfill source as functions and the CLI receive it (the configuration's `backfill`, its API URL resolved). */
export const BackfillSourceSchema = z.object({
  kind: z.enum(['gitlab', 'github', 'gitea', 'static']),
  apiUrl: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  owner: z.string().optional(),
  repositories: z.array(z.string()).default([]),
  tokenSecretName: z.string().min(1).optional(),
  requestsPerSecond: z.number().positive().default(5),
  burst: z.number().int().min(1).default(10),
});
export type BackfillSource = z.infer<typeof BackfillSourceSchema>;

export const BackfillSourceEnvSchema = z
  .string()
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be JSON' });
      return z.NEVER;
    }
  })
  .pipe(BackfillSourceSchema);

/** The lister for a source, with its API token read from Secrets Manager when one is named. */
export async function backfillLister(source: BackfillSource, secrets: SecretsManagerClient): Promise<RepositoryLister> {
  let token: string | undefined;
  if (source.tokenSecretName !== undefined) {
    try {
      const { SecretString } = await secrets.send(new GetSecretValueCommand({ SecretId: source.tokenSecretName }));
      token = SecretString?.trim();
    } catch (error) {
      throw new ConfigurationError(`cannot read the backfill token secret ${source.tokenSecretName}`, { cause: error });
    }
  }
  return createRepositoryLister({
    kind: source.kind,
    apiUrl: source.apiUrl,
    ...(source.owner === undefined ? {} : { owner: source.owner }),
    repositories: source.repositories,
    ...(token === undefined ? {} : { token }),
  });
}
