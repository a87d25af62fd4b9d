import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { git, listRefs } from '../../bin/local/git.ts';
import { waitForConvergence } from '../../bin/local/waitForConvergence.ts';
import { EventLog } from '../../lambdas/shared/eventlog/EventLog.ts';
import { parseRepositoryPath, type RepositoryPath } from '../../lambdas/shared/repositoryPath.ts';
import { basicAuthorization } from '../../lambdas/shared/secrets/SecretReader.ts';
import { commit, startTestBed, type TestBed } from '../helpers/testRuntime.ts';

const USERS = { alice: 'alice-password', bob: 'bob-password' };
const ALICE = basicAuthorization({ username: 'alice', password: USERS.alice });

/** git options that answer every credential request with these credentials, as a credential helper would. */
function credentialHelper(username: string, password: string): string[] {
  return ['-c', 'credential.helper=', '-c', `credential.helper=!f() { test "$1" = get && printf 'username=${username}\\npassword=${password}\\n'; }; f`];
}
/** No credential helper at all: git fails instead of asking. */
const NO_CREDENTIALS = ['-c', 'credential.helper='];

describe('reading a private repository from a region', () => {
  let bed: TestBed;
  let gitUrl: string;
  const secret = parseRepositoryPath('secret/payroll');
  const open = parseRepositoryPath('open/library');

  async function converge(repository: RepositoryPath): Promise<void> {
    const { dynamodb } = bed.runtime.clients.region(bed.runtime.primary.region);
    const latest = await new EventLog(DynamoDBDocumentClient.from(dynamodb), bed.runtime.primary.eventLogTable).latest(repository);
    await waitForConvergence({ runtime: bed.runtime, repository, primaryUrl: bed.primary.url, authorization: ALICE, timeoutMs: 60_000, minSequence: latest?.latestSequence ?? 0 });
  }

  async function seed(repository: RepositoryPath): Promise<void> {
    await bed.createRepository(repository);
    const work = join(bed.root, `seed-${repository.replace('/', '-')}`);
    const authenticated = bed.primary.url.replace('http://', `http://alice:${USERS.alice}@`);
    await git(['clone', '-q', `${authenticated}/${repository}.git`, work]);
    await commit(work, 3, repository.replace('/', '-'));
    await git(['push', '-q', 'origin', 'main'], { cwd: work });
    await bed.notifyPushes();
    await converge(repository);
  }

  const since = (mark: number, repository: string) => bed.primary.requests.slice(mark).filter((request) => request.path.startsWith(`/${repository}.git/`));

  // Everything the functions log (Powertools writes JSON lines to stdout), to prove no credentials are in it.
  const logged: string[] = [];
  const capture = (chunk: unknown): boolean => {
    logged.push(String(chunk));
    return true;
  };
  const spies = [jest.spyOn(process.stdout, 'write').mockImplementation(capture), jest.spyOn(process.stderr, 'write').mockImplementation(capture)];

  beforeAll(async () => {
    // Loggers read their level when their function cold-starts, in startTestBed.
    const level = process.env.POWERTOOLS_LOG_LEVEL;
    process.env.POWERTOOLS_LOG_LEVEL = 'INFO';
    try {
      bed = await startTestBed({
        server: { users: USERS, isPrivate: (repository) => repository.startsWith('secret/') },
        primaryCredentials: { username: 'alice', password: USERS.alice },
        config: { primaryCredentialsSecretName: 'git-geo/primary-read-credentials' },
      });
    } finally {
      process.env.POWERTOOLS_LOG_LEVEL = level;
    }
    gitUrl = bed.runtime.regions['eu-west-1']!.gitUrl;
    await seed(secret);
    await seed(open);
  });
  afterAll(async () => {
    for (const spy of spies) spy.mockRestore();
    await bed?.stop();
  });

  it('the sync records which repositories the primary serves to anonymous readers', async () => {
    expect((await bed.runtime.registry('eu-west-1').get(secret))?.anonymousRead).toBe(false);
    expect((await bed.runtime.registry('eu-west-1').get(open))?.anonymousRead).toBe(true);
  });

  it('without credentials: 401 with a challenge for every file, and stock git gets nothing', async () => {
    const packs = (await bed.runtime.mirrors('eu-west-1').get(`${secret}.git/objects/info/packs`))!.toString();
    const pack = /P (pack-[0-9a-f]+)\.pack/.exec(packs)![1]!;
    for (const file of ['info/refs?service=git-upload-pack', 'info/refs', 'HEAD', 'objects/info/packs', `objects/pack/${pack}.pack`, `objects/pack/${pack}.idx`]) {
      const response = await fetch(`${gitUrl}/${secret}.git/${file}`, { redirect: 'manual' });
      expect({ file, status: response.status }).toEqual({ file, status: 401 });
      expect(response.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect(await response.text()).not.toMatch(/[0-9a-f]{40}|PACK/);
    }
    const clone = join(bed.root, 'anonymous-clone');
    await expect(git([...NO_CREDENTIALS, 'clone', '-q', `${gitUrl}/${secret}.git`, clone])).rejects.toThrow();
    await expect(git([...NO_CREDENTIALS, 'ls-remote', `${gitUrl}/${secret}.git`])).rejects.toThrow();
    expect(existsSync(join(clone, '.git', 'objects', 'pack'))).toBe(false);
  });

  it('an anonymous caller cannot tell a private repository the region holds from one it does not', async () => {
    const answer = async (path: string, file: string, method = 'GET'): Promise<unknown> => {
      const response = await fetch(`${gitUrl}/${path}.git/${file}`, { method, redirect: 'manual', ...(method === 'POST' ? { body: '0000' } : {}) });
      // The body names the path the caller asked for; nothing else may differ.
      return { status: response.status, challenge: response.headers.get('www-authenticate'), body: (await response.text()).replaceAll(path, '<path>') };
    };
    for (const [file, method] of [['HEAD', 'GET'], ['objects/info/packs', 'GET'], ['git-upload-pack', 'POST']] as const) {
      const held = await answer(secret, file, method);
      expect(held).toMatchObject({ status: 401 });
      expect({ file, answer: await answer('secret/not-held-here', file, method) }).toEqual({ file, answer: held });
    }
  });

  it('wrong credentials: refused, and nothing is served', async () => {
    for (const authorization of [basicAuthorization({ username: 'bob', password: 'guess' }), basicAuthorization({ username: 'mallory', password: USERS.alice }), 'Bearer not-a-token']) {
      for (const file of ['info/refs?service=git-upload-pack', 'HEAD', 'objects/info/packs']) {
        const response = await fetch(`${gitUrl}/${secret}.git/${file}`, { headers: { authorization }, redirect: 'manual' });
        expect({ file, status: response.status }).toEqual({ file, status: 401 });
        expect(await response.text()).not.toMatch(/[0-9a-f]{40}/);
      }
    }
    const clone = join(bed.root, 'wrong-clone');
    await expect(git([...credentialHelper('alice', 'wrong'), 'clone', '-q', `${gitUrl}/${secret}.git`, clone])).rejects.toThrow();
    expect(existsSync(join(clone, '.git', 'objects', 'pack'))).toBe(false);
  });

  it('the right credentials: served by the region; the primary only checks them', async () => {
    const primaryRefs = await listRefs(`${bed.primary.url.replace('http://', `http://alice:${USERS.alice}@`)}/${secret}.git`);
    const mark = bed.primary.requests.length;
    const clone = join(bed.root, 'alice-clone');
    await git([...credentialHelper('alice', USERS.alice), 'clone', '-q', `${gitUrl}/${secret}.git`, clone]);
    await git(['fsck', '--full', '--strict'], { cwd: clone });
    expect((await git(['rev-parse', 'HEAD'], { cwd: clone })).trim()).toBe(primaryRefs.get('refs/heads/main'));
    await git([...credentialHelper('alice', USERS.alice), 'fetch', '-q', 'origin'], { cwd: clone });

    const asked = since(mark, secret);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((request) => request.method === 'GET' && request.path === `/${secret}.git/info/refs`)).toBe(true);
    expect(asked.some((request) => request.user === 'alice' && request.status === 200)).toBe(true);
  });

  it('credentials the primary forbids get its 403; a primary that cannot be asked gets a 503; nothing is served either way', async () => {
    const bob = basicAuthorization({ username: 'bob', password: USERS.bob });
    bed.primary.setFault({ status: 403 });
    try {
      const response = await fetch(`${gitUrl}/${secret}.git/info/refs?service=git-upload-pack`, { headers: { authorization: bob } });
      expect(response.status).toBe(403);
      expect(await response.text()).not.toMatch(/[0-9a-f]{40}/);
    } finally {
      bed.primary.setFault(undefined);
    }
    bed.primary.setFault({ status: 503 });
    try {
      const carol = basicAuthorization({ username: 'carol', password: 'unchecked' });
      const response = await fetch(`${gitUrl}/${secret}.git/objects/info/packs`, { headers: { authorization: carol } });
      expect(response.status).toBe(503);
      expect(await response.text()).not.toMatch(/pack-[0-9a-f]{40}/);
    } finally {
      bed.primary.setFault(undefined);
    }
  });

  it('a public repository on the same primary is served to anonymous readers without asking the primary', async () => {
    const primaryRefs = await listRefs(`${bed.primary.url}/${open}.git`);
    const mark = bed.primary.requests.length;
    const clone = join(bed.root, 'open-clone');
    await git([...NO_CREDENTIALS, 'clone', '-q', `${gitUrl}/${open}.git`, clone]);
    expect(await listRefs(`${gitUrl}/${open}.git`)).toEqual(primaryRefs);
    expect(since(mark, open)).toEqual([]);
  });

  it('no credentials in any function’s logs: not the passwords, not an Authorization header', () => {
    const text = logged.join('');
    expect(text).toContain('"message":"git request"');
    expect(text).toContain('"message":"git request refused"');
    for (const secretValue of [USERS.alice, USERS.bob, 'guess', 'unchecked', 'not-a-token', ALICE.slice('Basic '.length)]) expect(text).not.toContain(secretValue);
    expect(text).not.toMatch(/Basic [A-Za-z0-9+/=]{8,}|Bearer /);
  });
});
