import { describe, expect, it } from '@jest/globals';
import { ConfigurationError } from '../../lambdas/shared/errors/index.ts';
import { ActivePrimary } from '../../lambdas/shared/primary/ActivePrimary.ts';
import type { PrimaryOverride, PrimaryOverrideStore } from '../../lambdas/shared/primary/PrimaryOverride.ts';
import type { SecretReader } from '../../lambdas/shared/secrets/SecretReader.ts';

const SETTINGS = {
  primaryUrls: ['https://gitlab.example.com'],
  primaryCredentialsSecretName: 'git-geo/read',
  promotionCredentialsSecretName: 'git-geo/promote',
  primaryTimeoutSeconds: 7,
};

function activePrimary(credentialsSecretName: string | undefined): { primary: ActivePrimary; read: string[] } {
  const override: PrimaryOverride = {
    url: 'https://promoted.example.com',
    ...(credentialsSecretName === undefined ? {} : { credentialsSecretName }),
    previousUrl: 'https://gitlab.example.com',
    fromRegion: 'eu-west-1',
    promotedAt: '2026-11-30T00:00:00.000Z',
    promotedBy: 'operator',
    planned: false,
    promotionId: 'p1',
  };
  const read: string[] = [];
  const overrides = { current: () => Promise.resolve(override) } as unknown as PrimaryOverrideStore;
  const secrets = {
    primaryCredentials: (secretId: string) => {
      read.push(secretId);
      return Promise.resolve({ username: 'u', password: 'p' });
    },
  } as unknown as SecretReader;
  return { primary: new ActivePrimary(overrides, secrets, SETTINGS, { userAgent: 'test' }), read };
}

describe('ActivePrimary: the promoted host, read with a secret the function may read', () => {
  it('an override naming the promotion secret is followed, with that secret', async () => {
    const { primary, read } = activePrimary('git-geo/promote');
    const resolved = await primary.resolve();
    expect(resolved.url).toBe('https://promoted.example.com');
    expect(resolved.authenticated).toBe(true);
    expect(read).toEqual(['git-geo/promote']);
  });

  it('an override naming any other secret is refused with the secrets that may be named, and no secret is read', async () => {
    const { primary, read } = activePrimary('git-geo/someone-elses');
    const failure = await primary.resolve().catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConfigurationError);
    expect((failure as Error).message).toMatch(/git-geo\/someone-elses.*git-geo\/read or git-geo\/promote/);
    expect(read).toEqual([]);
  });

  it('the secrets an operator may name are the two the configuration names', () => {
    expect(ActivePrimary.readableSecrets(SETTINGS)).toEqual(['git-geo/read', 'git-geo/promote']);
    expect(ActivePrimary.readableSecrets({})).toEqual([]);
  });
});
