import { git } from '../local/git.ts';
import { filterRefs } from '../../lambdas/shared/git/RefSnapshot.ts';
import type { PrimaryCredentials } from '../../lambdas/shared/secrets/SecretReader.ts';
import { basicAuthorization } from '../../lambdas/shared/secrets/SecretReader.ts';

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

/**
 * Makes the repository at `url` hold exactly the refs of the local bare repository `gitDir` in the
 * mirrored namespaces: forced updates, and refs the local copy lacks are deleted (`--prune`), so a
 * failback onto a host that diverged ends identical. Git sends only objects the host lacks.
 */
export async function pushRepository(options: {
  gitDir: string;
  url: string;
  namespaces: readonly string[];
  credentials?: PrimaryCredentials;
}): Promise<PushResult> {
  const refspecs = options.namespaces.map((namespace) => `+${namespace}*:${namespace}*`);
  const env = gitAuthEnv(options.credentials);
  // A push negotiates only with the host's ref tips it already has: a host that diverged (a failback
  // onto a primary holding pushes the region never saw) would get everything again. Fetching its tips
  // first (only what it has that we lack) makes the push send only the difference.
  const tracking = options.namespaces.map((namespace) => `+${namespace}*:refs/git-geo/host/${namespace.slice('refs/'.length)}*`);
  await git(['fetch', '--quiet', '--no-tags', options.url, ...tracking], { cwd: options.gitDir, env }).catch(() => undefined);
  await git(['push', '--quiet', '--prune', '--porcelain', options.url, ...refspecs], { cwd: options.gitDir, env });
  return { refs: await remoteRefs(options.url, options.namespaces, options.credentials) };
}
