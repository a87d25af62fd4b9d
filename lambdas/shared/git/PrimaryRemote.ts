import git, { type HttpClient } from 'isomorphic-git';
import { AccessDeniedError, RepositoryMovedError, RepositoryNotFoundError } from '../errors/index.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import { advertisementWithHead } from './advertisementWithHead.ts';
import { createPrimaryHttpClient, type PrimaryHttpOptions } from './createPrimaryHttpClient.ts';
import { MemoryFs } from './MemoryFs.ts';
import type { PackFiles } from './PackFiles.ts';
import type { RefSnapshot } from './RefSnapshot.ts';
import { rewriteUploadPackRequest } from './uploadPackRequest.ts';

export interface PrimaryRemoteOptions extends Omit<PrimaryHttpOptions, 'allowedBaseUrls' | 'rewriteUploadPack'> {
  /** Where repositories are fetched from: `<baseUrl>/<path>.git`. */
  readonly baseUrl: string;
}

/** What the primary advertised: its refs, and the raw advertisement so a fetch need not ask again. */
export interface Discovery {
  readonly snapshot: RefSnapshot;
  readonly advertisement: Buffer;
}

/** What the primary answers a reader: it may read, it must log in, it may not, or there is no such repository. */
export type PrimaryAccess = 'allowed' | 'unauthenticated' | 'forbidden' | 'not-found';

export interface FetchRequest {
  readonly discovery: Discovery;
  /** Objects the mirror needs; isomorphic-git asks for heads and tags itself, these add the rest. */
  readonly wants: readonly string[];
  /** Objects the mirror already holds. */
  readonly haves: readonly string[];
}

const GITDIR = '/mirror.git';

async function* single(chunk: Uint8Array): AsyncIterableIterator<Uint8Array> {
  yield await Promise.resolve(chunk);
}

/**
 * The primary Git host as the sync sees it, over smart HTTP (protocol v1) with isomorphic-git.
 * Only `<baseUrl>/<path>.git` is ever contacted, whatever a payload said.
 */
export class PrimaryRemote {
  readonly baseUrl: string;

  constructor(private readonly options: PrimaryRemoteOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
  }

  repositoryUrl(repository: RepositoryPath): string {
    return `${this.baseUrl}/${repository}.git`;
  }

  /** True when requests carry credentials. */
  get authenticated(): boolean {
    return this.options.authorization !== undefined;
  }

  /** The same primary, asked with other credentials (undefined: anonymously). */
  withAuthorization(authorization: string | undefined): PrimaryRemote {
    return new PrimaryRemote({ ...this.options, authorization });
  }

  /**
   * Whether the primary lets these credentials read the repository: one GET of its ref
   * advertisement, whose body is dropped unread. An unreachable primary throws.
   */
  async access(repository: RepositoryPath): Promise<PrimaryAccess> {
    try {
      const response = await this.http().request({ url: `${this.repositoryUrl(repository)}/info/refs?service=git-upload-pack`, method: 'GET', headers: {} });
      await response.body?.return?.(undefined);
      return 'allowed';
    } catch (error) {
      if (error instanceof RepositoryNotFoundError) return 'not-found';
      if (error instanceof AccessDeniedError) return error.data.status === 401 ? 'unauthenticated' : 'forbidden';
      throw error;
    }
  }

  /** Lists every ref the primary advertises (all namespaces), with HEAD's target and peeled tags. */
  async discover(repository: RepositoryPath): Promise<Discovery> {
    let advertisement = Buffer.alloc(0);
    const base = this.http();
    const recording: HttpClient = {
      request: async (req) => {
        const res = await base.request(req);
        this.assertNotMoved(repository, res.url);
        const chunks: Uint8Array[] = [];
        for await (const chunk of res.body ?? []) chunks.push(chunk);
        advertisement = Buffer.concat(chunks);
        return { ...res, body: single(advertisement) };
      },
    };
    const info = await git.getRemoteInfo2({ http: recording, url: this.repositoryUrl(repository), protocolVersion: 1 });
    const refs = new Map<string, string>();
    const peeled = new Map<string, string>();
    let head: string | undefined;
    for (const ref of info.refs ?? []) {
      if (ref.ref === 'HEAD') {
        head = ref.target;
        continue;
      }
      refs.set(ref.ref, ref.oid);
      if (ref.peeled !== undefined) peeled.set(ref.ref, ref.peeled);
    }
    // Replayed to isomorphic-git's fetch, which needs a HEAD even where the primary's is unborn.
    return { snapshot: { head, refs, peeled }, advertisement: head === undefined ? advertisementWithHead(advertisement) : advertisement };
  }

  /**
   * Fetches one pack holding every object in `wants` that is not reachable from `haves`,
   * using isomorphic-git's fetch on an in-memory file system. Its fetch only asks for
   * heads and tags; the upload-pack request is extended with the other wants (extra ref
   * namespaces) and with our haves, so one round trip brings everything.
   * Answers undefined when the primary had nothing new to send.
   */
  async fetchPack(repository: RepositoryPath, request: FetchRequest): Promise<PackFiles | undefined> {
    const fs = new MemoryFs();
    await fs.promises.mkdir(GITDIR);
    // isomorphic-git reads the current branch first; any will do, nothing is checked out.
    await fs.promises.writeFile(`${GITDIR}/HEAD`, 'ref: refs/heads/main\n');
    // It also insists on a fetch refspec; the refs it writes are thrown away with the fs.
    await fs.promises.writeFile(`${GITDIR}/config`, '[remote "origin"]\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n');
    const http = this.http((body) => rewriteUploadPackRequest(body, { extraWants: request.wants, haves: request.haves }));
    const replaying: HttpClient = {
      request: (req) =>
        (req.method ?? 'GET') === 'GET' && req.url.includes('/info/refs?service=git-upload-pack')
          ? Promise.resolve({
              url: req.url,
              method: 'GET',
              statusCode: 200,
              statusMessage: 'OK',
              headers: { 'content-type': 'application/x-git-upload-pack-advertisement' },
              body: single(request.discovery.advertisement),
            })
          : http.request(req),
    };
    // isomorphic-git needs one advertised ref to resolve; any will do, the wants decide the pack.
    const { head, refs } = request.discovery.snapshot;
    const remoteRef = head !== undefined && refs.has(head) ? head : refs.keys().next().value;
    if (remoteRef === undefined) return undefined;
    await git.fetch({
      fs,
      http: replaying,
      gitdir: GITDIR,
      url: this.repositoryUrl(repository),
      remoteRef,
      singleBranch: false,
      tags: true,
    });
    const files = fs.filesUnder(`${GITDIR}/objects/pack`);
    for (const [path, pack] of files) {
      if (!path.endsWith('.pack')) continue;
      const idx = files.get(path.replace(/\.pack$/, '.idx'));
      if (idx === undefined) continue;
      const name = path.slice(path.lastIndexOf('/') + 1, -'.pack'.length);
      return { name, pack, idx };
    }
    return undefined;
  }

  /**
   * A redirect to another repository path means it was renamed or transferred (GitLab and GitHub
   * redirect old paths): mirroring what the redirect serves would resurrect the old path.
   */
  private assertNotMoved(repository: RepositoryPath, finalUrl: string): void {
    const own = `${this.repositoryUrl(repository)}/`;
    if (finalUrl.startsWith(own)) return;
    const moved = /^(.+?)\.git\//.exec(finalUrl.startsWith(`${this.baseUrl}/`) ? finalUrl.slice(this.baseUrl.length + 1) : '')?.[1];
    throw new RepositoryMovedError(`the primary redirects ${repository} to ${moved ?? 'another location'}`, {
      data: { repository, ...(moved === undefined ? {} : { movedTo: moved }) },
    });
  }

  private http(rewriteUploadPack?: (body: Buffer) => Buffer): HttpClient {
    return createPrimaryHttpClient({ ...this.options, allowedBaseUrls: [this.baseUrl], rewriteUploadPack });
  }
}
