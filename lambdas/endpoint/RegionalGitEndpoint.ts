import { Readable } from 'node:stream';
import { AccessDeniedError, AuthenticationError, ForbiddenError, ProtocolError, RepositoryNotFoundError } from '../shared/errors/index.ts';
import type { EventLog } from '../shared/eventlog/EventLog.ts';
import { MirrorRepository, mirrorPrefix } from '../shared/git/MirrorRepository.ts';
import { PackSet } from '../shared/git/pack/PackSet.ts';
import { parsePacksList } from '../shared/git/packsList.ts';
import type { PrimaryAccess, PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import { filterRefs, refsChecksum } from '../shared/git/RefSnapshot.ts';
import type { Registry } from '../shared/registry/Registry.ts';
import type { RepositoryState } from '../shared/registry/RepositoryState.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { AccessChecker } from './AccessChecker.ts';
import { assessFreshness } from './assessFreshness.ts';
import type { GitRequest } from './parseGitRequest.ts';
import { uploadPackV0Advertisement, UploadPackV0 } from './UploadPackV0.ts';
import { uploadPackV2Advertisement, UploadPackV2 } from './UploadPackV2.ts';

/** `redirect`: stale reads and every write go to the primary. `read-only`: this region never sends clients there. */
export type ReadMode = 'redirect' | 'read-only';

export interface EndpointSettings {
  readonly region: string;
  /** Base URL of the primary Git host; redirects go to `<primaryUrl>/<path>.git/…`. */
  readonly primaryUrl: string;
  readonly mode: ReadMode;
  /** After a push through this endpoint, reads compare refs with the primary this long. */
  readonly writePendingMs: number;
  /** How long the sync's record that the primary serves a repository anonymously is trusted. */
  readonly anonymousTrustMs: number;
  /** Ref namespaces the region mirrors, to compare like with like. */
  readonly refNamespaces: readonly string[];
  /** Largest pack a response may stream; a repository with a larger one is read from the primary. */
  readonly maxPackBytes: number;
  /** git's `uploadpack.allowReachableSHA1InWant` for protocol v0/v1 clients (v2 serves any object held, as git does). */
  readonly allowReachableSha1InWant: boolean;
}

export interface EndpointDependencies {
  readonly registry: Pick<Registry, 'get' | 'markWritePending'>;
  readonly eventLog: Pick<EventLog, 'latest'>;
  readonly store: ObjectStore;
  /** The primary, asked anonymously; `withAuthorization` asks it as the caller. */
  readonly primary: PrimaryRemote;
  readonly access: AccessChecker;
  readonly now: () => Date;
  readonly settings: EndpointSettings;
}

export interface EndpointResponse {
  readonly statusCode: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Readable;
  /** What happened, for logs and metrics (`served`, `redirected:behind`, `refused:401`…). Never secret. */
  readonly outcome: string;
}

const NO_CACHE = 'no-cache, max-age=0, must-revalidate';
// Packs and indexes are named by their content: they never change. Private: they may hold private code.
const IMMUTABLE = 'private, max-age=31536000, immutable';

function contentType(file: string): string {
  if (file.endsWith('.pack')) return 'application/x-git-packed-objects';
  if (file.endsWith('.idx')) return 'application/x-git-packed-objects-toc';
  return 'text/plain; charset=utf-8';
}

/**
 * A region's Git endpoint over dumb HTTP. Fresh reads are served from the region's bucket;
 * stale or unknown repositories and every write are redirected to the primary (on the first
 * request of a fetch, the only one git follows a redirect on). Callers are checked against the
 * primary with their own credentials, so the region never serves what the primary would refuse.
 */
export class RegionalGitEndpoint {
  /** Pack sizes by key: packs never change, so one HEAD each per instance. */
  private readonly knownPackSizes = new Map<string, number>();
  /** Packs recently read for protocol v2 fetches, least recently used first, within `maxPackBytes`. */
  private readonly loadedPacks = new Map<string, { pack: Buffer; idx: Buffer }>();
  private loadedBytes = 0;

  constructor(private readonly deps: EndpointDependencies) {}

  async handle(request: GitRequest): Promise<EndpointResponse> {
    switch (request.action) {
      case 'write':
        return this.write(request);
      case 'smart-read':
        return this.uploadPack(request);
      case 'refs':
        return this.refs(request);
      case 'absent':
        // Mirrors keep every object in packs, and dumb clients probe for loose objects before
        // they read the pack list. The answer is the same for every repository and caller, so
        // it tells nothing and costs nothing.
        return { statusCode: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': NO_CACHE }, body: 'not found\n', outcome: 'absent' };
      case 'file':
        return this.file(request);
    }
  }

  private async write(request: GitRequest): Promise<EndpointResponse> {
    const { settings } = this.deps;
    if (settings.mode === 'read-only') {
      throw new ForbiddenError(`region ${settings.region} is read-only: push to ${settings.primaryUrl}/${request.repository}.git`);
    }
    if (request.file === 'info/refs') {
      // Before the push lands: until its webhook has surely arrived, reads here check the primary.
      await this.deps.registry.markWritePending(request.repository, this.deps.now().toISOString());
    }
    return this.redirect(request, 'redirected:write');
  }

  private async refs(request: GitRequest): Promise<EndpointResponse> {
    const { registry, eventLog, settings } = this.deps;
    const [state, latest] = await Promise.all([registry.get(request.repository), eventLog.latest(request.repository)]);

    if (settings.mode === 'read-only') {
      if (state?.syncedSequence === undefined) throw this.notReplicated(request);
      await this.authorize(request, state);
      const fresh = assessFreshness(state, latest, this.deps.now(), 0).kind === 'fresh';
      return this.serveRefs(request, { 'x-git-geo-freshness': fresh ? 'current' : 'behind' });
    }

    const freshness = assessFreshness(state, latest, this.deps.now(), settings.writePendingMs);
    if (freshness.kind === 'stale' || state === undefined) {
      // Neither this region nor the event log knows it: a 404 here names the regional URL.
      if (state === undefined && latest === undefined && (await this.primarySaysNotFound(request))) throw this.notFound(request);
      return this.redirect(request, `redirected:${freshness.kind === 'stale' ? freshness.reason : 'not-replicated'}`);
    }
    const packSizes = await this.packSizes(request);
    if (packSizes.some((size) => size > settings.maxPackBytes)) return this.redirect(request, 'redirected:pack-too-large');

    if (freshness.kind === 'write-pending') {
      // Only the primary knows whether the push has landed. Asking it needs the caller's own
      // access; an anonymous caller of a private repository goes there directly, because
      // git cannot follow a redirect after answering a credentials challenge.
      if (request.authorization === undefined && !this.trustedAnonymous(state)) return this.redirect(request, 'redirected:write-pending');
      const matches = await this.matchesPrimary(request, state);
      if (!matches) return this.redirect(request, 'redirected:write-pending');
      return this.serveRefs(request, { 'x-git-geo-freshness': 'current' }, packSizes);
    }

    await this.authorize(request, state);
    return this.serveRefs(request, { 'x-git-geo-freshness': 'current' }, packSizes);
  }

  /**
   * The refs, as the client asked: a smart client of upload-pack (any protocol version) gets
   * the smart advertisement (its packs are small enough to build a pack from in memory); a dumb
   * client (no `?service=`) gets `info/refs`.
   */
  private async serveRefs(request: GitRequest, extraHeaders: Record<string, string>, packSizes?: readonly number[]): Promise<EndpointResponse> {
    if (request.service === 'git-upload-pack') {
      const total = (packSizes ?? (await this.packSizes(request))).reduce((sum, size) => sum + size, 0);
      if (total <= this.deps.settings.maxPackBytes) {
        const advertisement = request.protocolVersion === 2 ? uploadPackV2Advertisement() : await this.v0Advertisement(request);
        if (advertisement !== undefined) {
          return {
            statusCode: 200,
            headers: { 'content-type': 'application/x-git-upload-pack-advertisement', 'cache-control': NO_CACHE, 'x-git-geo-region': this.deps.settings.region, ...extraHeaders },
            body: Readable.from([advertisement]),
            outcome: 'served',
          };
        }
      }
    }
    return this.serveFile(request, extraHeaders);
  }

  /** The v0/v1 ref advertisement from the mirror's refs; undefined when the bucket holds no state (the caller falls back). */
  private async v0Advertisement(request: GitRequest): Promise<Buffer | undefined> {
    const current = await new MirrorRepository(this.deps.store, request.repository).readState();
    if (current === undefined) return undefined;
    return uploadPackV0Advertisement(current.snapshot, request.protocolVersion === 1 ? 1 : 0, { allowReachableSha1InWant: this.deps.settings.allowReachableSha1InWant });
  }

  /**
   * An upload-pack POST (protocol v2 ls-refs or fetch, or a v0/v1 negotiation round), answered
   * from the mirror after the same checks as a file read. What the mirror lacks (an object not
   * yet replicated, refs outside the mirrored namespaces) is answered by the primary, asked as
   * the caller: git does not follow a redirect on a POST, and a CI job must not fail for it.
   */
  private async uploadPack(request: GitRequest): Promise<EndpointResponse> {
    const state = await this.deps.registry.get(request.repository);
    if (state?.syncedSequence === undefined) throw this.notReplicated(request);
    await this.authorize(request, state);
    const mirror = new MirrorRepository(this.deps.store, request.repository);
    const current = await mirror.readState();
    if (current === undefined) throw this.notReplicated(request);
    const prefix = mirrorPrefix(request.repository);
    const content = {
      snapshot: current.snapshot,
      packs: async () => new PackSet(await Promise.all(current.packs.map((name) => this.loadPack(request, `${prefix}objects/pack/${name}`)))),
    };
    const { settings } = this.deps;
    const server =
      request.protocolVersion === 2
        ? new UploadPackV2(content, { refNamespaces: settings.refNamespaces })
        : new UploadPackV0(content, { allowReachableSha1InWant: settings.allowReachableSha1InWant });
    const answer = await server.respond(request.body ?? Buffer.alloc(0));
    if (answer.primary !== undefined) return this.proxyUploadPack(request, answer.primary);
    const { outcome } = answer;
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/x-git-upload-pack-result', 'cache-control': NO_CACHE, 'x-git-geo-region': settings.region },
      body: Readable.from([answer.body]),
      outcome: outcome.command === 'fetch' && outcome.packBytes !== undefined ? 'served' : `served:${outcome.command}`,
    };
  }

  /** The request as the client sent it, answered by the primary with the caller's credentials, streamed back. */
  private async proxyUploadPack(request: GitRequest, reason: string): Promise<EndpointResponse> {
    try {
      const answer = await this.deps.primary.withAuthorization(request.authorization).uploadPack(request.repository, request.body ?? Buffer.alloc(0), request.gitProtocol);
      return {
        statusCode: 200,
        headers: { 'content-type': answer.contentType, 'cache-control': NO_CACHE, 'x-git-geo-region': this.deps.settings.region, 'x-git-geo-answered-by': 'primary' },
        body: Readable.from(answer.body),
        outcome: `proxied:${reason}`,
      };
    } catch (error) {
      if (error instanceof RepositoryNotFoundError) throw this.notFound(request);
      if (error instanceof AccessDeniedError) this.throwUnlessAllowed(request, error.data.status === 401 ? 'unauthenticated' : 'forbidden');
      throw error;
    }
  }

  private async file(request: GitRequest): Promise<EndpointResponse> {
    const state = await this.deps.registry.get(request.repository);
    if (state?.syncedSequence === undefined) throw this.notReplicated(request);
    await this.authorize(request, state);
    return this.serveFile(request, {});
  }

  /** Whether the primary says the repository does not exist; anything else (even no answer) sends the client there. */
  private async primarySaysNotFound(request: GitRequest): Promise<boolean> {
    try {
      return (await this.deps.access.check(request.repository, request.authorization)) === 'not-found';
    } catch {
      return false;
    }
  }

  /** Throws unless the primary would let this caller read the repository. */
  private async authorize(request: GitRequest, state: RepositoryState): Promise<void> {
    if (request.authorization === undefined && this.trustedAnonymous(state)) return;
    this.throwUnlessAllowed(request, await this.deps.access.check(request.repository, request.authorization));
  }

  /** The last sync saw the primary serve this repository anonymously, recently enough to rely on. */
  private trustedAnonymous(state: RepositoryState): boolean {
    if (state.anonymousRead !== true || state.accessCheckedAt === undefined) return false;
    return this.deps.now().getTime() - Date.parse(state.accessCheckedAt) < this.deps.settings.anonymousTrustMs;
  }

  private throwUnlessAllowed(request: GitRequest, access: PrimaryAccess): void {
    const data = { repository: request.repository };
    switch (access) {
      case 'allowed':
        return;
      case 'unauthenticated':
        throw new AuthenticationError(
          request.authorization === undefined ? 'this repository needs credentials' : 'the primary refused these credentials',
          { data },
        );
      case 'forbidden':
        throw new ForbiddenError('the primary does not let these credentials read this repository', { data });
      case 'not-found':
        throw this.notFound(request);
    }
  }

  /** Compares the region's refs with what the primary advertises to this caller now. */
  private async matchesPrimary(request: GitRequest, state: RepositoryState): Promise<boolean> {
    try {
      const { snapshot } = await this.deps.primary.withAuthorization(request.authorization).discover(request.repository);
      return refsChecksum(filterRefs(snapshot, this.deps.settings.refNamespaces)) === state.refsChecksum;
    } catch (error) {
      if (error instanceof RepositoryNotFoundError) throw this.notFound(request);
      if (error instanceof AccessDeniedError) this.throwUnlessAllowed(request, error.data.status === 401 ? 'unauthenticated' : 'forbidden');
      throw error;
    }
  }

  /**
   * A pack and its index, from this instance's memory when a recent fetch loaded them: packs
   * never change, and CI fleets clone the same repositories over and over.
   */
  private async loadPack(request: GitRequest, key: string): Promise<{ pack: Buffer; idx: Buffer }> {
    const cached = this.loadedPacks.get(key);
    if (cached !== undefined) {
      this.loadedPacks.delete(key);
      this.loadedPacks.set(key, cached);
      return cached;
    }
    const [pack, idx] = await Promise.all([this.deps.store.get(`${key}.pack`), this.deps.store.get(`${key}.idx`)]);
    if (pack === undefined || idx === undefined) throw new ProtocolError(`a pack of ${request.repository} is listed but missing`, { data: { repository: request.repository, key } });
    const loaded = { pack, idx };
    this.loadedPacks.set(key, loaded);
    this.loadedBytes += pack.length + idx.length;
    for (const [oldest, value] of this.loadedPacks) {
      if (this.loadedBytes <= this.deps.settings.maxPackBytes) break;
      this.loadedPacks.delete(oldest);
      this.loadedBytes -= value.pack.length + value.idx.length;
    }
    return loaded;
  }

  /** The sizes of the repository's listed packs (one HEAD each, remembered: packs never change). */
  private async packSizes(request: GitRequest): Promise<number[]> {
    const prefix = mirrorPrefix(request.repository);
    const list = await this.deps.store.get(`${prefix}objects/info/packs`);
    const keys = parsePacksList(list?.toString('utf8') ?? '').map((name) => `${prefix}objects/pack/${name}.pack`);
    const sizes = await Promise.all(
      keys.map(async (key) => {
        let size = this.knownPackSizes.get(key);
        if (size === undefined) {
          size = (await this.deps.store.head(key))?.size ?? 0;
          this.knownPackSizes.set(key, size);
        }
        return size;
      }),
    );
    return sizes;
  }

  private async serveFile(request: GitRequest, extraHeaders: Record<string, string>): Promise<EndpointResponse> {
    const key = `${mirrorPrefix(request.repository)}${request.file}`;
    const immutable = request.file.startsWith('objects/pack/');
    const headers = {
      'content-type': contentType(request.file),
      'cache-control': immutable ? IMMUTABLE : NO_CACHE,
      'x-git-geo-region': this.deps.settings.region,
      ...extraHeaders,
    };
    if (request.method === 'HEAD') {
      const found = await this.deps.store.head(key);
      if (found === undefined) return this.missing(request);
      return { statusCode: 200, headers, body: '', outcome: 'served' };
    }
    const found = await this.deps.store.stream(key);
    if (found === undefined) return this.missing(request);
    return { statusCode: 200, headers, body: found.body, outcome: 'served' };
  }

  private missing(request: GitRequest): EndpointResponse {
    // info/refs missing while the registry says synced: the bucket is not what the registry
    // says. The primary has the answer; other files are simply not there.
    if (request.action === 'refs' && this.deps.settings.mode === 'redirect') return this.redirect(request, 'redirected:missing');
    return { statusCode: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': NO_CACHE }, body: 'not found\n', outcome: 'missing' };
  }

  private redirect(request: GitRequest, outcome: string): EndpointResponse {
    const location = `${this.deps.settings.primaryUrl}/${request.repository}.git/${request.file}${request.query === '' ? '' : `?${request.query}`}`;
    return {
      // 307 keeps a POST a POST; git follows either on the first request of a fetch or push.
      statusCode: request.method === 'POST' ? 307 : 302,
      headers: { location, 'cache-control': 'no-store', 'x-git-geo-region': this.deps.settings.region },
      body: '',
      outcome,
    };
  }

  private notFound(request: GitRequest): RepositoryNotFoundError {
    return new RepositoryNotFoundError(`no repository ${request.repository} on the primary`, { data: { repository: request.repository } });
  }

  /**
   * A repository this region does not hold. An anonymous caller gets what a private repository
   * it holds answers (a credentials challenge), so the answer never tells which ones it holds.
   */
  private notReplicated(request: GitRequest): RepositoryNotFoundError | AuthenticationError {
    if (request.authorization === undefined) return new AuthenticationError('this repository needs credentials', { data: { repository: request.repository } });
    return new RepositoryNotFoundError(`region ${this.deps.settings.region} holds no copy of ${request.repository}`, {
      data: { repository: request.repository },
    });
  }
}
