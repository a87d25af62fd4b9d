import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { BackfillSourceConfig } from '../../cdk/GeoConfig.ts';
import { ConfigurationError } from '../shared/errors/index.ts';
import { createRepositoryLister, type RepositoryLister } from './RepositoryLister.ts';

/** The configuration's `backfill`, with the API URL it lists from resolved. */
export type BackfillSource = BackfillSourceConfig & { readonly apiUrl: string };

/** Where a source is listed: its own API URL, else GitHub's API, else the active primary (the configured one or the promoted host). */
export function backfillApiUrl(source: BackfillSourceConfig, activePrimaryUrl: string): string {
  return source.apiUrl ?? (source.kind === 'github' ? 'https://api.github.com' : activePrimaryUrl);
}

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
