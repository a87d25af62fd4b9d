import { ConfigurationError } from '../errors/index.ts';
import { PrimaryRemote, type FetchEngine } from '../git/PrimaryRemote.ts';
import { basicAuthorization, type SecretReader } from '../secrets/SecretReader.ts';
import type { PrimaryOverrideStore } from './PrimaryOverride.ts';

export interface ActivePrimarySettings {
  readonly primaryUrls: readonly string[];
  readonly primaryCredentialsSecretName?: string | undefined;
  readonly promotionCredentialsSecretName?: string | undefined;
  readonly primaryTimeoutSeconds: number;
}

/** The primary a function talks to now, with the credentials it reads it with. */
export interface ResolvedPrimary {
  readonly url: string;
  readonly remote: PrimaryRemote;
  readonly authorization: string | undefined;
  readonly authenticated: boolean;
}

/**
 * The active primary: the configured one, or the host `git-geo promote` made primary (the
 * override, cached for a few seconds). An override may name only a secret of the
 * configuration (primaryCredentialsSecretName or promotionCredentialsSecretName): the
 * function's role may read no other, so any other name is refused here, with the reason,
 * rather than failing every request with AccessDenied.
 */
export class ActivePrimary {
  constructor(
    private readonly overrides: PrimaryOverrideStore,
    private readonly secrets: SecretReader,
    private readonly settings: ActivePrimarySettings,
    private readonly remoteOptions: { readonly userAgent: string; readonly engine?: FetchEngine },
  ) {}

  /** The secret names an override may use. */
  static readableSecrets(settings: Pick<ActivePrimarySettings, 'primaryCredentialsSecretName' | 'promotionCredentialsSecretName'>): string[] {
    return [settings.primaryCredentialsSecretName, settings.promotionCredentialsSecretName].filter((name): name is string => name !== undefined);
  }

  async resolve(options: { readonly fresh?: boolean } = {}): Promise<ResolvedPrimary> {
    const override = await this.overrides.current();
    const readable = ActivePrimary.readableSecrets(this.settings);
    if (override?.credentialsSecretName !== undefined && !readable.includes(override.credentialsSecretName)) {
      throw new ConfigurationError(
        `the primary override names the secret ${override.credentialsSecretName}, which git-geo's functions may not read; promote again with --credentials-secret ${readable.join(' or ') || '(none configured)'}`,
        { data: { secret: override.credentialsSecretName, readable } },
      );
    }
    const secretId = override?.credentialsSecretName ?? this.settings.primaryCredentialsSecretName;
    const authorization = secretId === undefined ? undefined : basicAuthorization(await this.secrets.primaryCredentials(secretId, { fresh: options.fresh ?? false }));
    const url = override?.url ?? this.settings.primaryUrls[0]!;
    const remote = new PrimaryRemote({
      baseUrl: url,
      authorization,
      timeoutMs: this.settings.primaryTimeoutSeconds * 1000,
      userAgent: this.remoteOptions.userAgent,
      ...(this.remoteOptions.engine === undefined ? {} : { engine: this.remoteOptions.engine }),
    });
    return { url, remote, authorization, authenticated: secretId !== undefined };
  }
}
