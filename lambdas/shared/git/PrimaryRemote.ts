import type { default as IsomorphicGit, HttpClient } from 'isomorphic-git';
import { rm } from 'node:fs/promises';
import { AccessDeniedError, ProtocolError, RepositoryMovedError, RepositoryNotFoundError } from '../errors/index.ts';
import type { RepositoryPath } from '../repositoryPath.ts';
import { advertisementWithHead } from './advertisementWithHead.ts';
import { createPrimaryHttpClient, type PrimaryHttpOptions } from './createPrimaryHttpClient.ts';
import { MemoryFs } from './MemoryFs.ts';
import { PackIndexer, type SpooledPack } from './pack/PackIndexer.ts';
import { readPackStream } from './pack/readPackStream.ts';
import { spoolError, spoolPath } from './pack/spool.ts';
import { chooseCapabilities, uploadPackRequestBody } from './pack/uploadPackRequestBody.ts';
import type { FetchedPack, PackFiles } from './PackFiles.ts';
import { fetchRequest, lsRefsRequest, parseInfoRefsAnswer, parseLsRefs, type RefusedRef } from './protocolV2.ts';
import type { RefSnapshot } from './RefSnapshot.ts';
import { rewriteUploadPackRequest } from './uploadPackRequest.ts';

/** isomorphic-git (with pako) is loaded when first used: the native engine and the endpoint's access checks never need it, and evaluating it costs every cold start. */
async function isomorphicGit(): Promise<typeof IsomorphicGit> {
  return (await import('isomorphic-git')).default;
}

/**
 * How packs are fetched. `native` (the default) streams the upload-pack response and indexes
 * the pack with Node's zlib and SHA-1 as it arrives; `isomorphic-git` runs isomorphic-git's
 * own fetch on an in-memory file system (the original path, kept as a fallback and baseline).
 */
export const FETCH_ENGINES = ['native', 'isomorphic-git'] as const;
export type FetchEngine = (typeof FETCH_ENGINES)[number];

export interface PrimaryRemoteOptions extends Omit<PrimaryHttpOptions, 'allowedBaseUrls' | 'rewriteUploadPack'> {
  /** Where repositories are fetched from: `<baseUrl>/<path>.git`. */
  readonly baseUrl: string;
  /** @default 'native' */
  readonly engine?: FetchEngine;
  /** Where the native engine spools a pack while it streams in (Lambda: /tmp, up to 10 GB). @default os.tmpdir() */
  readonly spoolDir?: string;
  /** The highest protocol version to ask for (2 asks for v2 and falls back to v0 when the host lacks it). @default 2 */
  readonly protocolVersion?: 0 | 2;
}

export interface DiscoverOptions {
  /**
   * Only refs under these prefixes are wanted (and HEAD): over protocol v2 the primary then sends
   * only those (`ls-refs` with `ref-prefix`). Without it every ref is listed, over protocol v1.
   */
  readonly refPrefixes?: readonly string[];
}

/** What the primary advertised: its refs, and the raw advertisement so a fetch need not ask again. */
export interface Discovery {
  readonly snapshot: RefSnapshot;
  readonly advertisement: Buffer;
  /** The upload-pack capabilities the primary advertised. */
  readonly capabilities: Readonly<Record<string, string | true>>;
  /** The protocol the discovery (and so the fetch) speaks: 2 when the primary has it and prefixes were given. @default 1 */
  readonly protocol?: 0 | 1 | 2;
  /** Refs the primary advertised under names git would refuse: never stored. */
  readonly refused?: readonly RefusedRef[];
  /** Bytes of the primary's answers to the discovery. */
  readonly advertisedBytes?: number;
}


/** What the primary answers a reader: it may read, it must log in, it may not, or there is no such repository. */
export type PrimaryAccess = 'allowed' | 'unauthenticated' | 'forbidden' | 'not-found';

export interface FetchRequest {
  readonly discovery: Discovery;
  /** Objects the mirror needs; isomorphic-git asks for heads and tags itself, these add the rest. */
  readonly wants: readonly string[];
  /** Objects the mirror already holds. */
  readonly haves: readonly string[];
  /** Small blobs to keep aside while the pack is indexed (the native engine spools the pack itself to disk). */
  readonly keepBlob?: (content: Buffer) => boolean;
}

const GITDIR = '/mirror.git';

async function readAll(body: AsyncIterable<Uint8Array> | undefined): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body ?? []) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** Removes a fetched pack's spool file, if it has one (once it is uploaded, or given up). */
export async function discardPack(pack: FetchedPack): Promise<void> {
  if ('packPath' in pack) await rm(pack.packPath, { force: true });
}

async function* single(chunk: Uint8Array): AsyncIterableIterator<Uint8Array> {
  yield await Promise.resolve(chunk);
}

/**
 * The primary Git host as the sync sees it, over smart HTTP (protocol v1): isomorphic-git
 * discovers its refs; packs are fetched by the configured engine.
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

  /**
   * Lists the primary's refs, with HEAD's target and peeled tags: every ref (all namespaces), or
   * with `refPrefixes` only those, over protocol v2 when the primary has it (v0 otherwise).
   */
  async discover(repository: RepositoryPath, options: DiscoverOptions = {}): Promise<Discovery> {
    if (options.refPrefixes !== undefined && (this.options.engine ?? 'native') === 'native') return this.discoverNative(repository, options.refPrefixes);
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
    const info = await (await isomorphicGit()).getRemoteInfo2({ http: recording, url: this.repositoryUrl(repository), protocolVersion: 1 });
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
    return {
      snapshot: { head, refs, peeled },
      advertisement: head === undefined ? advertisementWithHead(advertisement) : advertisement,
      capabilities: info.capabilities,
      advertisedBytes: advertisement.length,
    };
  }

  /**
   * Discovery as the native engine does it: `info/refs` asked with `Git-Protocol: version=2`; a v2
   * host answers with its capabilities, and `ls-refs` then lists only the wanted prefixes. A host
   * without v2 answers with its whole v0 advertisement, which is used as it is. Every ref name is
   * checked as `git check-ref-format` does: bad ones are listed in `refused`, never in the snapshot.
   */
  private async discoverNative(repository: RepositoryPath, refPrefixes: readonly string[]): Promise<Discovery> {
    const v2 = (this.options.protocolVersion ?? 2) === 2;
    const answer = await this.http().request({
      url: `${this.repositoryUrl(repository)}/info/refs?service=git-upload-pack`,
      method: 'GET',
      headers: v2 ? { 'git-protocol': 'version=2' } : {},
    });
    this.assertNotMoved(repository, answer.url);
    const first = await readAll(answer.body);
    const parsed = parseInfoRefsAnswer(first);
    if (parsed.version === 0) {
      return { snapshot: parsed.refs.snapshot, refused: parsed.refs.refused, advertisement: first, capabilities: parsed.capabilities, protocol: 0, advertisedBytes: first.length };
    }
    const lsRefs = await this.http().request({
      url: `${this.repositoryUrl(repository)}/git-upload-pack`,
      method: 'POST',
      headers: { 'content-type': 'application/x-git-upload-pack-request', accept: 'application/x-git-upload-pack-result', 'git-protocol': 'version=2' },
      body: single(lsRefsRequest(refPrefixes, parsed.capabilities)),
    });
    const listed = await readAll(lsRefs.body);
    const refs = parseLsRefs(listed);
    return { snapshot: refs.snapshot, refused: refs.refused, advertisement: Buffer.alloc(0), capabilities: parsed.capabilities, protocol: 2, advertisedBytes: first.length + listed.length };
  }

  /**
   * Sends an upload-pack request to the primary as it came from a client (with the credentials
   * this remote carries) and answers its response as it streams: a region's answer for what it
   * does not hold. `gitProtocol` is the client's `Git-Protocol` header.
   */
  async uploadPack(repository: RepositoryPath, body: Buffer, gitProtocol: string | undefined): Promise<{ contentType: string; body: AsyncIterable<Uint8Array> }> {
    const response = await this.postUploadPack(repository, body, gitProtocol);
    this.assertNotMoved(repository, response.url);
    return { contentType: response.headers?.['content-type'] ?? 'application/x-git-upload-pack-result', body: response.body ?? single(Buffer.alloc(0)) };
  }

  /** One POST to the primary's `git-upload-pack`; `gitProtocol` is the `Git-Protocol` header, if any. */
  private async postUploadPack(repository: RepositoryPath, body: Buffer, gitProtocol: string | undefined): ReturnType<HttpClient['request']> {
    return await this.http().request({
      url: `${this.repositoryUrl(repository)}/git-upload-pack`,
      method: 'POST',
      headers: {
        'content-type': 'application/x-git-upload-pack-request',
        accept: 'application/x-git-upload-pack-result',
        ...(gitProtocol === undefined ? {} : { 'git-protocol': gitProtocol }),
      },
      body: single(body),
    });
  }

  /**
   * Fetches one pack holding every object in `wants` that is not reachable from `haves`,
   * with the configured engine. Answers undefined when the primary had nothing new to send.
   */
  async fetchPack(repository: RepositoryPath, request: FetchRequest): Promise<FetchedPack | undefined> {
    if (request.wants.length === 0) return undefined;
    return (this.options.engine ?? 'native') === 'native' ? this.fetchPackNative(repository, request) : this.fetchPackWithIsomorphicGit(repository, request);
  }

  /**
   * One upload-pack round trip (a v2 `fetch` when discovery spoke v2) whose response is read as it
   * streams: side-band packets are split off and fed to the pack indexer as they arrive, so
   * downloading, inflating and hashing overlap. The pack is spooled to a local file, never held:
   * memory does not grow with the pack. The caller uploads it and removes the file (`discardPack`).
   */
  private async fetchPackNative(repository: RepositoryPath, request: FetchRequest): Promise<SpooledPack | undefined> {
    const v2 = request.discovery.protocol === 2;
    const capabilities = chooseCapabilities(request.discovery.capabilities);
    const body = v2 ? fetchRequest(request, request.discovery.capabilities) : uploadPackRequestBody({ wants: request.wants, haves: request.haves, capabilities });
    const response = await this.postUploadPack(repository, body, v2 ? 'version=2' : undefined);
    const path = await spoolPath('fetch', this.options.spoolDir);
    const kept: { oid: Buffer; content: Buffer }[] = [];
    const keepBlob = request.keepBlob;
    const indexer = new PackIndexer({
      spoolPath: path,
      ...(keepBlob === undefined ? {} : { onObject: (type, oid, content) => void (type === 'blob' && keepBlob(content) && kept.push({ oid: Buffer.from(oid), content: Buffer.from(content) })) }),
    });
    // Protocol v2 always uses side-band-64k for the packfile section.
    const sideBand = v2 || capabilities.includes('side-band-64k') || capabilities.includes('side-band');
    if (response.body === undefined) throw new ProtocolError('upload-pack answered with no body');
    let pack: SpooledPack;
    try {
      let yieldedAt = performance.now();
      for await (const chunk of readPackStream(response.body, { sideBand })) {
        indexer.write(chunk);
        // Chunks already buffered arrive as microtasks: let timers (the visibility heartbeat, the idle timeout) run now and then.
        if (performance.now() - yieldedAt > 50) {
          await new Promise((resolve) => setImmediate(resolve));
          yieldedAt = performance.now();
        }
      }
      pack = indexer.finishToFile();
    } catch (error) {
      indexer.abort();
      throw spoolError(error, path, indexer.receivedBytes);
    }
    if (pack.objectCount > 0) return keepBlob === undefined ? pack : { ...pack, keptBlobs: kept };
    await discardPack(pack);
    return undefined;
  }

  /**
   * The isomorphic-git engine: isomorphic-git's fetch on an in-memory file system. Its fetch only asks for
   * heads and tags; the upload-pack request is extended with the other wants (extra ref
   * namespaces) and with our haves, so one round trip brings everything.
   * Answers undefined when the primary had nothing new to send.
   */
  private async fetchPackWithIsomorphicGit(repository: RepositoryPath, request: FetchRequest): Promise<PackFiles | undefined> {
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
    await (await isomorphicGit()).fetch({
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
