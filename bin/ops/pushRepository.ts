import { git } from '../local/git.ts';
import { filterRefs } from '../../lambdas/shared/git/RefSnapshot.ts';
import type { PrimaryCredentials } from '../../lambdas/shared/secrets/SecretReader.ts';
import { basicAuthorization } from '../../lambdas/shared/secrets/SecretReader.ts';
import { ZERO_OID } from '../../lambdas/shared/git/refName.ts';
import { advertiseReceivePack, isUnanswered, sendReceivePack, type RefCommand } from './receivePack.ts';

/** A push whose request got no answer is made again, from a fresh advertisement, this many times in all. */
const PUSH_ATTEMPTS = 3;

export interface PushResult {
  /** Refs the host has after the push, in the mirrored namespaces (HEAD's target under `HEAD`). */
  readonly refs: Map<string, string>;
}

/**
 * Git's environment for talking to a host with credentials: an Authorization header passed through
 * GIT_CONFIG_* variables, never on the command line (where other users could read it in /proc).
 */
export function gitAuthEnv(credentials: PrimaryCredentials | undefined): Record<string, string> {
  if (credentials === undefined) return {};
  return { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: ${basicAuthorization(credentials)}` };
}

/** Every ref a repository URL advertises in the namespaces, and HEAD's target under `HEAD`. */
export async function remoteRefs(url: string, namespaces: readonly string[], credentials?: PrimaryCredentials): Promise<Map<string, string>> {
  const output = await git(['ls-remote', '--symref', url], { env: gitAuthEnv(credentials) });
  const refs = new Map<string, string>();
  let head: string | undefined;
  for (const line of output.split('\n')) {
    const symref = /^ref: (\S+)\tHEAD$/.exec(line);
    if (symref) {
      head = symref[1];
      continue;
    }
    const [oid, name] = line.split('\t');
    if (oid && name && name !== 'HEAD' && !name.endsWith('^{}')) refs.set(name, oid);
  }
  const filtered = filterRefs({ head, refs, peeled: new Map() }, namespaces);
  const result = new Map(filtered.refs);
  if (head !== undefined) result.set('HEAD', head);
  return result;
}

/** The local repository's refs in the namespaces, `ref -> oid`. */
async function localRefs(gitDir: string, namespaces: readonly string[]): Promise<Map<string, string>> {
  const output = await git(['for-each-ref', '--format=%(objectname) %(refname)', ...namespaces], { cwd: gitDir });
  const refs = new Map<string, string>();
  for (const line of output.split('\n')) {
    const [oid, name] = line.split(' ');
    if (oid && name) refs.set(name, oid);
  }
  return refs;
}

/** Which of `oids` the local repository has. */
async function presentObjects(gitDir: string, oids: readonly string[]): Promise<string[]> {
  if (oids.length === 0) return [];
  const output = await git(['cat-file', '--batch-check=%(objectname)'], { cwd: gitDir, input: `${oids.join('\n')}\n` });
  return output.split('\n').filter((line) => line !== '' && !line.endsWith(' missing'));
}

/**
 * Makes the repository at `url` hold exactly the refs of the local bare repository `gitDir` in the
 * mirrored namespaces: forced updates, and refs the local copy lacks are deleted (pruned), so a
 * failback onto a host that diverged ends identical. Only objects the host lacks are sent, in one
 * receive-pack request however many refs change (`sendReceivePack`: `git push` is quadratic in them).
 */
export async function pushRepository(options: {
  gitDir: string;
  url: string;
  namespaces: readonly string[];
  credentials?: PrimaryCredentials;
}): Promise<PushResult> {
  const env = gitAuthEnv(options.credentials);
  // The pack leaves out what the host's ref tips reach, so only tips present here help: a host that
  // diverged (a failback onto a primary holding pushes the region never saw) would get everything
  // again. Fetching its tips first (only what it has that we lack) makes the push send only the difference.
  const tracking = options.namespaces.map((namespace) => `+${namespace}*:refs/git-geo/host/${namespace.slice('refs/'.length)}*`);
  await git(['fetch', '--quiet', '--no-tags', options.url, ...tracking], { cwd: options.gitDir, env }).catch(() => undefined);
  const local = await localRefs(options.gitDir, options.namespaces);
  const inNamespaces = (ref: string): boolean => options.namespaces.some((namespace) => ref.startsWith(namespace));
  for (let attempt = 1; ; attempt++) {
    // Commands are computed from a fresh advertisement each time, so a push whose request got no
    // answer (a kept-alive connection the host had just closed) is simply made again.
    try {
      const advertisement = await advertiseReceivePack(options.url, options.credentials);
      const commands: RefCommand[] = [];
      for (const [ref, oid] of local) {
        const old = advertisement.refs.get(ref) ?? ZERO_OID;
        if (old !== oid) commands.push({ ref, old, new: oid });
      }
      for (const [ref, old] of advertisement.refs) {
        if (inNamespaces(ref) && !local.has(ref)) commands.push({ ref, old, new: ZERO_OID });
      }
      const haves = await presentObjects(options.gitDir, [...new Set(advertisement.refs.values())]);
      await sendReceivePack({ gitDir: options.gitDir, url: options.url, commands, haves, capabilities: advertisement.capabilities, credentials: options.credentials });
      break;
    } catch (error) {
      if (!isUnanswered(error) || attempt >= PUSH_ATTEMPTS) throw error;
    }
  }
  return { refs: await remoteRefs(options.url, options.namespaces, options.credentials) };
}
