import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigurationError } from '../errors/index.ts';

/** Secrets are cached this long, so a rotation takes effect within minutes without a redeploy. */
const MAX_AGE_SECONDS = 300;

export interface PrimaryCredentials {
  readonly username: string;
  readonly password: string;
}

/**
 * Reads git-geo's secrets from Secrets Manager through Powertools, with caching.
 * Values are never logged and never put into an error.
 */
export class SecretReader {
  private readonly provider: SecretsProvider;

  constructor(client: SecretsManagerClient) {
    this.provider = new SecretsProvider({ awsSdkV3Client: client });
  }

  /** The shared webhook secret: plain text, or JSON `{"secret": "..."}`. Refuses an empty one. */
  async webhookSecret(secretId: string): Promise<string> {
    const raw = await this.read(secretId);
    const secret = this.field(raw, 'secret') ?? raw;
    if (secret.trim().length === 0) {
      throw new ConfigurationError('the webhook secret is empty; git-geo accepts no unauthenticated webhooks', {
        data: { secretId },
      });
    }
    return secret;
  }

  /**
   * Read credentials for the primary: JSON `{"username","password"}` or `{"token"}` (user `oauth2`).
   * `fresh` skips the cache: after the primary refused them, rotated credentials take effect at once.
   */
  async primaryCredentials(secretId: string, options: { fresh?: boolean } = {}): Promise<PrimaryCredentials> {
    const raw = await this.read(secretId, options.fresh ?? false);
    const token = this.field(raw, 'token');
    const password = this.field(raw, 'password') ?? token;
    if (password === undefined) {
      throw new ConfigurationError('primary credentials secret needs "password" or "token"', { data: { secretId } });
    }
    return { username: this.field(raw, 'username') ?? 'oauth2', password };
  }

  private async read(secretId: string, forceFetch = false): Promise<string> {
    let value: unknown;
    try {
      value = await this.provider.get(secretId, { maxAge: MAX_AGE_SECONDS, forceFetch });
    } catch (cause) {
      throw new ConfigurationError(`cannot read secret ${secretId}`, { cause, data: { secretId } });
    }
    if (typeof value !== 'string') {
      throw new ConfigurationError(`secret ${secretId} has no string value`, { data: { secretId } });
    }
    return value;
  }

  private field(raw: string, name: string): string | undefined {
    if (!raw.trimStart().startsWith('{')) return undefined;
    try {
      const value = (JSON.parse(raw) as Record<string, unknown>)[name];
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }
}

export function basicAuthorization(credentials: PrimaryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
