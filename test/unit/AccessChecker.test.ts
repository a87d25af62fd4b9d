import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from '../../bin/local/git.ts';
import { startGitServer, type GitServer } from '../../bin/local/startGitServer.ts';
import { AccessChecker } from '../../lambdas/endpoint/AccessChecker.ts';
import { PrimaryUnavailableError } from '../../lambdas/shared/errors/index.ts';
import { PrimaryRemote } from '../../lambdas/shared/git/PrimaryRemote.ts';
import { parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { basicAuthorization } from '../../lambdas/shared/secrets/SecretReader.ts';

const ALICE = basicAuthorization({ username: 'alice', password: 'right' });
const WRONG = basicAuthorization({ username: 'alice', password: 'wrong' });
const secret = parseRepositoryPath('secret/repo');
const open = parseRepositoryPath('open/repo');

describe('AccessChecker: the primary decides, briefly remembered', () => {
  let root: string;
  let server: GitServer;
  let clock = 0;
  const checker = (): AccessChecker =>
    new AccessChecker(new PrimaryRemote({ baseUrl: server.url, timeoutMs: 5000 }), { allowedTtlMs: 60_000, deniedTtlMs: 10_000, maxEntries: 3, now: () => clock });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'git-geo-access-'));
    server = await startGitServer({ root, users: { alice: 'right' }, isPrivate: (repository) => repository.startsWith('secret/') });
    for (const repository of [secret, open]) await git(['init', '--bare', '-q', join(root, `${repository}.git`)]);
  });
  afterAll(async () => {
    await server?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('answers what the primary answers each caller', async () => {
    const access = checker();
    expect(await access.check(open, undefined)).toBe('allowed');
    expect(await access.check(secret, undefined)).toBe('unauthenticated');
    expect(await access.check(secret, ALICE)).toBe('allowed');
    expect(await access.check(secret, WRONG)).toBe('unauthenticated');
    expect(await access.check(parseRepositoryPath('secret/missing'), ALICE)).toBe('not-found');
  });

  it('asks once per credentials and repository while the answer is fresh, then again', async () => {
    clock = 0;
    const access = checker();
    await access.check(secret, ALICE);
    await access.check(secret, ALICE);
    expect(access.checks).toBe(1);
    await access.check(open, ALICE);
    await access.check(secret, basicAuthorization({ username: 'alice', password: 'right ' }));
    expect(access.checks).toBe(3);
    clock += 59_000;
    await access.check(secret, ALICE);
    expect(access.checks).toBe(3);
    clock += 2_000;
    await access.check(secret, ALICE);
    expect(access.checks).toBe(4);
  });

  it('remembers a refusal for a shorter time', async () => {
    clock = 0;
    const access = checker();
    expect(await access.check(secret, WRONG)).toBe('unauthenticated');
    clock += 9_000;
    expect(await access.check(secret, WRONG)).toBe('unauthenticated');
    expect(access.checks).toBe(1);
    clock += 2_000;
    await access.check(secret, WRONG);
    expect(access.checks).toBe(2);
  });

  it('keeps at most maxEntries answers, dropping the oldest', async () => {
    clock = 0;
    const access = checker();
    const callers = ['a', 'b', 'c', 'd'].map((user) => basicAuthorization({ username: user, password: 'x' }));
    for (const caller of callers) await access.check(open, caller);
    await access.check(open, callers[3]);
    expect(access.checks).toBe(4);
    await access.check(open, callers[0]);
    expect(access.checks).toBe(5);
  });

  it('maps the primary’s 403 to forbidden; an unavailable primary throws and nothing is remembered', async () => {
    clock = 0;
    const access = checker();
    server.setFault({ status: 403 });
    try {
      expect(await access.check(open, ALICE)).toBe('forbidden');
      server.setFault({ status: 503 });
      await expect(access.check(secret, ALICE)).rejects.toBeInstanceOf(PrimaryUnavailableError);
    } finally {
      server.setFault(undefined);
    }
    expect(await access.check(secret, ALICE)).toBe('allowed');
  });
});
