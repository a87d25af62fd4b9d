import * as z from 'zod';
import { PrimaryUnavailableError } from '../../shared/errors/index.ts';
import { BatchResponseSchema, LFS_MEDIA_TYPE, type LfsApi, type LfsBatchObject } from '../../shared/lfs/LfsApi.ts';
import { lfsObjectKey, OID_PATTERN } from '../../shared/lfs/LfsPointer.ts';
import type { Registry } from '../../shared/registry/Registry.ts';
import type { RepositoryState } from '../../shared/registry/RepositoryState.ts';
import type { ObjectStore } from '../../shared/storage/ObjectStore.ts';
import type { AccessChecker } from '../AccessChecker.ts';
import type { EndpointResponse, ReadMode } from '../RegionalGitEndpoint.ts';
import type { LfsRequest } from './parseLfsRequest.ts';

/** How long a region's download href is valid (git-lfs asks again after). */
export const LFS_DOWNLOAD_URL_SECONDS = 900;
/** Most objects one batch request may name (git-lfs sends 100). */
export const MAX_BATCH_OBJECTS = 1000;

export interface LfsEndpointDependencies {
  readonly registry: Pick<Registry, 'get'>;
  readonly store: Pick<ObjectStore, 'head'>;
  /** A GET URL for a bucket key that needs no other credentials (S3: pre-signed). */
  readonly downloadUrl: (key: string, expiresInSeconds: number) => Promise<string>;
  /** The primary's LFS API, anonymous: the caller's credentials are added per request. */
  readonly primary: LfsApi;
  readonly access: Pick<AccessChecker, 'check'>;
  readonly now: () => Date;
  readonly settings: { readonly region: string; readonly mode: ReadMode; readonly anonymousTrustMs: number };
}

const BatchRequestSchema = z.object({
  operation: z.enum(['download', 'upload']),
  transfers: z.array(z.string()).optional(),
  objects: z.array(z.object({ oid: z.string(), size: z.number().int().nonnegative() })).max(MAX_BATCH_OBJECTS),
});

function lfsJson(statusCode: number, body: unknown, outcome: string, headers: Record<string, string> = {}): EndpointResponse {
  return { statusCode, headers: { 'content-type': LFS_MEDIA_TYPE, 'cache-control': 'no-store', ...headers }, body: `${JSON.stringify(body)}\n`, outcome };
}

/**
 * A region's Git LFS API. Downloads of objects the region holds get pre-signed bucket URLs
 * (no Authorization header: it never goes to another host); objects it lacks get the
 * primary's own answer, asked with the caller's credentials. Uploads, verify and the locks API
 * are relayed to the primary, so `git lfs push` through the regional URL lands there. Readers of
 * a private repository are checked against the primary as Git reads are.
 */
export class RegionalLfsEndpoint {
  constructor(private readonly deps: LfsEndpointDependencies) {}

  async handle(request: LfsRequest): Promise<EndpointResponse> {
    if (request.subpath === 'objects/batch' && request.method === 'POST') {
      let parsed: z.infer<typeof BatchRequestSchema>;
      try {
        const result = BatchRequestSchema.safeParse(JSON.parse(request.body.toString('utf8')));
        if (!result.success) return lfsJson(422, { message: `invalid batch request: ${result.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}` }, 'rejected:lfs');
        parsed = result.data;
      } catch {
        return lfsJson(422, { message: 'the batch request is not JSON' }, 'rejected:lfs');
      }
      if (parsed.operation === 'download') return this.download(request, parsed.objects);
    }
    return this.relay(request);
  }

  private async download(request: LfsRequest, objects: readonly { oid: string; size: number }[]): Promise<EndpointResponse> {
    const { registry, settings } = this.deps;
    const state = await registry.get(request.repository);
    if (state?.syncedSequence === undefined || state.status === 'deleted') {
      if (settings.mode === 'read-only') return lfsJson(404, { message: `region ${settings.region} holds no copy of ${request.repository}` }, 'missing:lfs');
      return this.relay(request, 'relayed:lfs-not-replicated');
    }
    const refused = await this.refusal(request, state);
    if (refused !== undefined) return refused;

    const answers = new Map<string, LfsBatchObject>();
    const lacking: { oid: string; size: number }[] = [];
    await Promise.all(
      objects.map(async ({ oid, size }) => {
        if (!OID_PATTERN.test(oid)) {
          answers.set(oid, { oid, size, error: { code: 422, message: 'oid must be 64 lower-case hex digits (SHA-256)' } });
          return;
        }
        const key = lfsObjectKey(request.repository, oid);
        const held = await this.deps.store.head(key);
        if (held === undefined || held.size !== size) {
          lacking.push({ oid, size });
          return;
        }
        const href = await this.deps.downloadUrl(key, LFS_DOWNLOAD_URL_SECONDS);
        answers.set(oid, { oid, size, authenticated: true, actions: { download: { href, expires_in: LFS_DOWNLOAD_URL_SECONDS } } });
      }),
    );
    if (lacking.length > 0) for (const answer of await this.fromPrimary(request, lacking)) answers.set(answer.oid, answer);
    const served = objects.length - lacking.length;
    return lfsJson(
      200,
      { transfer: 'basic', objects: objects.map(({ oid, size }) => answers.get(oid) ?? { oid, size, error: { code: 404, message: 'object not found' } }), hash_algo: 'sha256' },
      lacking.length === 0 ? 'served:lfs' : served === 0 ? 'relayed:lfs-missing' : 'served:lfs-partly',
      { 'x-git-geo-region': settings.region },
    );
  }

  /** The primary's answer for objects this region lacks, asked as the caller; per-object errors when it cannot answer. */
  private async fromPrimary(request: LfsRequest, objects: readonly { oid: string; size: number }[]): Promise<LfsBatchObject[]> {
    const unavailable = (message: string): LfsBatchObject[] => objects.map(({ oid, size }) => ({ oid, size, error: { code: 404, message } }));
    if (this.deps.settings.mode === 'read-only') return unavailable(`not yet replicated to region ${this.deps.settings.region}`);
    try {
      const answer = await this.deps.primary
        .withAuthorization(request.authorization)
        .relay(request.repository, 'objects/batch', { method: 'POST', contentType: LFS_MEDIA_TYPE, body: Buffer.from(JSON.stringify({ operation: 'download', transfers: ['basic'], objects })) });
      if (answer.status !== 200) return unavailable(`not yet replicated to region ${this.deps.settings.region}, and the primary answered ${answer.status}`);
      return BatchResponseSchema.parse(JSON.parse(answer.body.toString('utf8'))).objects;
    } catch (error) {
      if (error instanceof PrimaryUnavailableError || error instanceof SyntaxError || error instanceof z.ZodError) {
        return unavailable(`not yet replicated to region ${this.deps.settings.region}, and the primary could not be asked`);
      }
      throw error;
    }
  }

  /** An LFS-style refusal unless the primary would let this caller read the repository. */
  private async refusal(request: LfsRequest, state: RepositoryState): Promise<EndpointResponse | undefined> {
    if (request.authorization === undefined && this.trustedAnonymous(state)) return undefined;
    const access = await this.deps.access.check(request.repository, request.authorization);
    switch (access) {
      case 'allowed':
        return undefined;
      case 'unauthenticated':
        return lfsJson(401, { message: request.authorization === undefined ? 'this repository needs credentials' : 'the primary refused these credentials' }, 'refused:401', {
          'lfs-authenticate': 'Basic realm="git-geo"',
          'www-authenticate': 'Basic realm="git-geo"',
        });
      case 'forbidden':
        return lfsJson(403, { message: 'the primary does not let these credentials read this repository' }, 'refused:403');
      case 'not-found':
        return lfsJson(404, { message: `no repository ${request.repository} on the primary` }, 'missing:lfs');
    }
  }

  /** The last sync saw the primary serve this repository anonymously, recently enough to rely on. */
  private trustedAnonymous(state: RepositoryState): boolean {
    if (state.anonymousRead !== true || state.accessCheckedAt === undefined) return false;
    return this.deps.now().getTime() - Date.parse(state.accessCheckedAt) < this.deps.settings.anonymousTrustMs;
  }

  /** Uploads, verify and locks: the primary's business, relayed with the caller's credentials. */
  private async relay(request: LfsRequest, outcome = 'relayed:lfs'): Promise<EndpointResponse> {
    if (this.deps.settings.mode === 'read-only') {
      return lfsJson(403, { message: `region ${this.deps.settings.region} is read-only: set lfs.pushurl to the primary's ${request.repository}.git/info/lfs` }, 'refused:read-only');
    }
    const answer = await this.deps.primary.withAuthorization(request.authorization).relay(request.repository, request.subpath, {
      method: request.method,
      ...(request.contentType === undefined ? {} : { contentType: request.contentType }),
      ...(request.accept === undefined ? {} : { accept: request.accept }),
      body: request.body,
    });
    return { statusCode: answer.status, headers: { 'cache-control': 'no-store', ...answer.headers, 'x-git-geo-region': this.deps.settings.region }, body: answer.body.toString('utf8'), outcome };
  }
}
