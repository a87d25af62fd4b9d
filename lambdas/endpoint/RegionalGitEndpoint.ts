import { Readable } from 'node:stream';
import { AccessDeniedError, AuthenticationError, ForbiddenError, LimitExceededError, RepositoryNotFoundError } from '../shared/errors/index.ts';
import { MirrorRepository, mirrorPrefix, type MirrorState } from '../shared/git/MirrorRepository.ts';
import { bundleKey, bundleListLines, formatBundleList } from '../shared/git/mirrorBundle.ts';
import { encodeFlush, encodePktLine, splitPackets } from '../shared/git/pktLine.ts';
import type { PrimaryAccess, PrimaryRemote } from '../shared/git/PrimaryRemote.ts';
import { filterRefs, refsChecksum } from '../shared/git/RefSnapshot.ts';
import type { Announcements, ControlPlaneContact } from '../shared/registry/Announcements.ts';
import type { Registry } from '../shared/registry/Registry.ts';
import type { RepositoryState } from '../shared/registry/RepositoryState.ts';
import type { ObjectStore } from '../shared/storage/ObjectStore.ts';
import type { ObjectUrls } from '../shared/storage/ObjectUrls.ts';
import type { AccessChecker } from './AccessChecker.ts';
import { assessFreshness, type ControlPlaneView } from './assessFreshness.ts';
import { bulkFetch } from './BulkFetch.ts';
import { MirrorPackCache } from './MirrorPackCache.ts';
import { MirrorStateCache } from './MirrorStateCache.ts';
import { mirrorStateDigest } from './packReuse.ts';
import type { PackUploads } from './PackUploads.ts';
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
  /**
   * Largest pack a response may carry inline (a streamed Lambda response stops at 200 MB);
   * bigger ones go by pre-signed URL (packfile-uris, dumb HTTP) or fail with a clear error.
   */
  readonly maxPackBytes: number;
  /** A read this region cannot prove fresh because the control plane went quiet: served from the copy, or sent to the primary. */
  readonly onControlPlaneLoss: 'serve-stale' | 'redirect';
  /** Silence from the control plane longer than this means it is lost. */
  readonly controlPlaneLossMs: number;
  /** With `serve-stale`: served as usual this long after the last heartbeat, then as a read-only copy. */
  readonly stalenessBudgetMs: number;
  /** Most pack bytes an instance keeps on local disk to read objects from. @default 400 MiB */
  readonly packCacheBytes?: number;
  /** git's `uploadpack.allowReachableSHA1InWant` for protocol v0/v1 clients (v2 serves any object held, as git does). */
  readonly allowReachableSha1InWant: boolean;
}

export interface EndpointDependencies {
  readonly registry: Pick<Registry, 'get' | 'markWritePending'>;
  /** What the region last heard from the control plane (its own registry; never another region). */
  readonly announcements: Pick<Announcements, 'controlPlaneContact'>;
  readonly store: ObjectStore;
  /** The primary, asked anonymously; `withAuthorization` asks it as the caller. */
  readonly primary: PrimaryRemote;
  readonly access: AccessChecker;
  /** Pre-signed download URLs for packs; absent, packs pass through the endpoint. */
  readonly urls?: ObjectUrls;
  /** Where a big pack built for one fetch goes, for a client that downloads by URL; absent, it passes through the endpoint. */
  readonly uploads?: PackUploads;
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

/** How long an instance reuses a mirror's refs and pack list read under the same registry record. */
const MIRROR_STATE_MAX_AGE_MS = 30_000;
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
  /** Indexes in memory, packs on local disk: memory stays bounded whatever the repository's size. */
  private readonly packCache: MirrorPackCache;
  /** Each mirror's refs and pack list, read once for the several POSTs of a fetch. */
  private readonly mirrorStates: MirrorStateCache;

  constructor(private readonly deps: EndpointDependencies) {
    const diskBytes = deps.settings.packCacheBytes ?? 400 * 2 ** 20;
    this.packCache = new MirrorPackCache(deps.store, { maxDiskBytes: diskBytes, maxIndexBytes: Math.max(64 * 2 ** 20, diskBytes / 8) });
    this.mirrorStates = new MirrorStateCache(deps.store, { maxAgeMs: MIRROR_STATE_MAX_AGE_MS, maxEntries: 256, now: () => deps.now().getTime() });
  }

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
      case 'bundle':
        return this.bundle(request);
    }
  }

  private async write(request: GitRequest): Promise<EndpointResponse> {
    const { settings } = this.deps;
    if (settings.mode === 'read-only') {
      throw new ForbiddenError(`region ${settings.region} is read-only: push to ${settings.primaryUrl}/${request.repository}.git`);
    }
    const silence = this.controlPlaneView(await this.controlPlaneContact());
    if (settings.onControlPlaneLoss === 'serve-stale' && silence.heardAt !== undefined && this.deps.now().getTime() - Date.parse(silence.heardAt) > settings.stalenessBudgetMs) {
      // Past the staleness budget the region is a read-only copy: a push it sent on could never reach it.
      throw new ForbiddenError(`region ${settings.region} has not heard from git-geo's control plane since ${silence.heardAt} and serves a read-only copy: push to ${settings.primaryUrl}/${request.repository}.git`);
    }
    if (request.file === 'info/refs') {
      // Before the push lands: until its webhook has surely arrived, reads here check the primary.
      await this.deps.registry.markWritePending(request.repository, this.deps.now().toISOString());
    }
    return this.redirect(request, 'redirected:write');
  }

  private async refs(request: GitRequest): Promise<EndpointResponse> {
    const { registry, settings } = this.deps;
    const [state, contact] = await Promise.all([registry.get(request.repository), this.controlPlaneContact()]);
    const controlPlane = this.controlPlaneView(contact);

    if (settings.mode === 'read-only') {
      if (state?.syncedSequence === undefined) throw this.notReplicated(request);
      await this.authorize(request, state);
      const fresh = assessFreshness(state, this.deps.now(), 0, controlPlane).kind === 'fresh';
      return this.serveRefs(request, { 'x-git-geo-freshness': fresh ? 'current' : 'behind' });
    }

    const freshness = assessFreshness(state, this.deps.now(), settings.writePendingMs, controlPlane);
    if (freshness.kind === 'stale' || state === undefined) {
      // This region never heard of it: a 404 here names the regional URL.
      if (state === undefined && (await this.primarySaysNotFound(request))) throw this.notFound(request);
      return this.redirect(request, `redirected:${freshness.kind === 'stale' ? freshness.reason : 'not-replicated'}`);
    }
    if (freshness.kind === 'unproven' && settings.onControlPlaneLoss === 'redirect') return this.redirect(request, 'redirected:control-plane-lost');

    if (freshness.kind === 'unproven') {
      // The copy holds every change announced here, but announcements stopped: serve it, and say so.
      await this.authorize(request, state);
      return this.serveRefs(request, { 'x-git-geo-freshness': freshness.withinBudget ? 'unproven' : 'read-only', 'x-git-geo-control-plane-heard-at': freshness.since });
    }

    if (freshness.kind === 'write-pending') {
      // Only the primary knows whether the push has landed. Asking it needs the caller's own
      // access; an anonymous caller of a private repository goes there directly, because
      // git cannot follow a redirect after answering a credentials challenge.
      if (request.authorization === undefined && !this.trustedAnonymous(state)) return this.redirect(request, 'redirected:write-pending');
      const matches = await this.matchesPrimary(request, state);
      if (!matches) return this.redirect(request, 'redirected:write-pending');
      return this.serveRefs(request, { 'x-git-geo-freshness': 'current' });
    }

    await this.authorize(request, state);
    return this.serveRefs(request, { 'x-git-geo-freshness': 'current' });
  }

  /**
   * The refs, as the client asked: a smart client of upload-pack (any protocol version) gets
   * the smart advertisement, whatever the repository's size (big packs go by pre-signed URL);
   * a dumb client (no `?service=`) gets `info/refs`.
   */
  private async serveRefs(request: GitRequest, extraHeaders: Record<string, string>): Promise<EndpointResponse> {
    if (request.service === 'git-upload-pack') {
      const advertisement =
        request.protocolVersion === 2
          ? uploadPackV2Advertisement(this.deps.urls === undefined ? [] : ['packfile-uris'], this.deps.urls === undefined ? [] : ['bundle-uri'])
          : await this.v0Advertisement(request);
      if (advertisement !== undefined) {
        return {
          statusCode: 200,
          headers: { 'content-type': 'application/x-git-upload-pack-advertisement', 'cache-control': NO_CACHE, 'x-git-geo-region': this.deps.settings.region, ...extraHeaders },
          body: Readable.from([advertisement]),
          outcome: 'served',
        };
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
    const state = await this.replicatedAndAuthorized(request);
    const current = await this.mirrorStates.read(request.repository, state);
    if (current === undefined) throw this.notReplicated(request);
    const prefix = mirrorPrefix(request.repository);
    const packKeys = current.packs.map((name) => `${prefix}objects/pack/${name}`);
    const headers = { 'content-type': 'application/x-git-upload-pack-result', 'cache-control': NO_CACHE, 'x-git-geo-region': this.deps.settings.region };
    try {
      return await this.fetchOrList(request, current, packKeys, headers);
    } catch (error) {
      // Over a limit: an ERR line, which git shows the user, rather than a bare HTTP status.
      if (!(error instanceof LimitExceededError)) throw error;
      return { statusCode: 200, headers, body: Readable.from([Buffer.concat([encodePktLine(`ERR ${error.message}\n`), encodeFlush()])]), outcome: 'refused:limit' };
    }
  }

  private async fetchOrList(request: GitRequest, current: MirrorState, packKeys: readonly string[], headers: Record<string, string>): Promise<EndpointResponse> {
    const { settings } = this.deps;
    const body = request.body ?? Buffer.alloc(0);
    if (request.protocolVersion === 2 && splitPackets(body)?.[0]?.text === 'command=bundle-uri') {
      // Protocol v2 `bundle-uri` (git ≥ 2.40 with transfer.bundleURI=true): the same list as `<repo>.git/bundle`.
      const signed = await this.signedBundle(request.repository, current);
      const lines = signed === undefined ? [] : bundleListLines(signed.name, signed.uri);
      return { statusCode: 200, headers, body: Readable.from([Buffer.concat([...lines.map((line) => encodePktLine(`${line}\n`)), encodeFlush()])]), outcome: 'served:bundle-uri' };
    }
    if (request.protocolVersion === 2) {
      // Whole stored packs (clones, by pre-signed URL or streamed from the bucket) need no walk.
      const bulk = await bulkFetch(body, {
        snapshot: current.snapshot,
        packKeys,
        store: this.deps.store,
        index: (key) => this.packCache.index(key),
        ...(this.deps.urls === undefined ? {} : { urls: this.deps.urls }),
        maxInlineBytes: settings.maxPackBytes,
      });
      if (bulk.kind === 'answer') return { statusCode: 200, headers, body: bulk.body, outcome: bulk.outcome };
    }
    const content = { snapshot: current.snapshot, packs: () => this.packCache.packSet(packKeys) };
    // A walked pack is streamed as it is written; past the limit of a streamed response it ends with an error git shows.
    const server =
      request.protocolVersion === 2
        ? new UploadPackV2(content, {
            refNamespaces: settings.refNamespaces,
            maxPackBytes: settings.maxPackBytes,
            ...(this.deps.uploads === undefined ? {} : { packUris: { uploads: this.deps.uploads, mirrorStateDigest: () => mirrorStateDigest(request.repository, current) } }),
          })
        : new UploadPackV0(content, { allowReachableSha1InWant: settings.allowReachableSha1InWant, maxPackBytes: settings.maxPackBytes });
    const answer = await server.respond(body);
    if (answer.primary !== undefined) return this.proxyUploadPack(request, answer.primary);
    const { outcome } = answer;
    return {
      statusCode: 200,
      headers,
      body: Readable.from(Buffer.isBuffer(answer.body) ? [answer.body] : answer.body),
      outcome: outcome.command === 'fetch' && outcome.objects !== undefined ? (outcome.reused === true ? 'served:reused-pack-uri' : outcome.byUri === true ? 'served:built-pack-uri' : 'served') : `served:${outcome.command}`,
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

  /** The repository's registry state, after the checks every read of the mirror makes: replicated here, and the caller allowed. */
  private async replicatedAndAuthorized(request: GitRequest): Promise<RepositoryState> {
    const state = await this.deps.registry.get(request.repository);
    if (state?.syncedSequence === undefined) throw this.notReplicated(request);
    await this.authorize(request, state);
    return state;
  }

  private async file(request: GitRequest): Promise<EndpointResponse> {
    await this.replicatedAndAuthorized(request);
    return this.serveFile(request, {});
  }

  /**
   * `<repo>.git/bundle`, the URL for `git clone --bundle-uri` (git ≥ 2.39): a bundle list (git
   * config format) naming the mirror's bundle by a pre-signed URL, so its bytes come straight
   * from the bucket and git then fetches only what is newer, from here. A mirror without a
   * bundle answers 404, on which git warns and clones as usual. The same checks as any file.
   */
  private async bundle(request: GitRequest): Promise<EndpointResponse> {
    const state = await this.replicatedAndAuthorized(request);
    const signed = await this.signedBundle(request.repository, await this.mirrorStates.read(request.repository, state));
    if (signed === undefined) {
      return { statusCode: 404, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': NO_CACHE, 'x-git-geo-region': this.deps.settings.region }, body: 'no bundle for this repository yet\n', outcome: 'missing:bundle' };
    }
    // The list holds a URL that expires: never cached.
    const headers = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-git-geo-region': this.deps.settings.region };
    return { statusCode: 200, headers, body: request.method === 'HEAD' ? '' : formatBundleList(signed.name, signed.uri), outcome: 'served:bundle-list' };
  }

  /** The mirror's bundle and a pre-signed URL for it; none without a bundle or without URLs (a bundle is too big for Lambda). */
  private async signedBundle(repository: GitRequest['repository'], current: MirrorState | undefined): Promise<{ name: string; uri: string } | undefined> {
    if (current?.bundle === undefined || this.deps.urls === undefined) return undefined;
    const key = bundleKey(new MirrorRepository(this.deps.store, repository), current.bundle.name);
    return { name: current.bundle.name, uri: await this.deps.urls.signedGetUrl(key) };
  }

  /** What the region last heard from the control plane; unreadable counts as nothing heard (never a reason to refuse a read). */
  private async controlPlaneContact(): Promise<ControlPlaneContact> {
    try {
      return await this.deps.announcements.controlPlaneContact();
    } catch {
      return {};
    }
  }

  private controlPlaneView(contact: ControlPlaneContact): ControlPlaneView {
    const { controlPlaneLossMs, stalenessBudgetMs } = this.deps.settings;
    return { ...(contact.heardAt === undefined ? {} : { heardAt: contact.heardAt }), lossAfterMs: controlPlaneLossMs, stalenessBudgetMs };
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
    if (immutable && found.size > this.deps.settings.maxPackBytes && this.deps.urls !== undefined) {
      // More than Lambda streams: straight from the bucket. git follows this redirect only with
      // http.followRedirects=true (its default follows the first request of a fetch alone).
      found.body.destroy();
      const location = await this.deps.urls.signedGetUrl(key);
      return { statusCode: 302, headers: { location, 'cache-control': 'no-store', 'x-git-geo-region': this.deps.settings.region }, body: '', outcome: 'served:signed-url' };
    }
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
