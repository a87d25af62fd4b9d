import { mirrorPrefix } from '../git/MirrorRepository.ts';
import type { RepositoryPath } from '../repositoryPath.ts';

/** The first line of every Git LFS pointer file (spec v1). */
export const LFS_POINTER_VERSION = 'version https://git-lfs.github.com/spec/v1';
/** git-lfs never writes a pointer larger than this; bigger blobs are content, not pointers. */
export const MAX_POINTER_BYTES = 1024;

/** One LFS object: its SHA-256 (lower-case hex) and size in bytes. */
export interface LfsObjectId {
  readonly oid: string;
  readonly size: number;
}

export const OID_PATTERN = /^[0-9a-f]{64}$/;

/** The object a pointer file names, or undefined when the blob is not an LFS pointer. */
export function parseLfsPointer(data: Uint8Array): LfsObjectId | undefined {
  if (data.length > MAX_POINTER_BYTES || data.length < LFS_POINTER_VERSION.length) return undefined;
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  if (!text.startsWith(`${LFS_POINTER_VERSION}\n`)) return undefined;
  const oid = /\noid sha256:([0-9a-f]{64})\n/.exec(text)?.[1];
  const size = /\nsize (\d{1,16})\n/.exec(text)?.[1];
  if (oid === undefined || size === undefined) return undefined;
  const bytes = Number(size);
  return Number.isSafeInteger(bytes) ? { oid, size: bytes } : undefined;
}

/** Where a region keeps an LFS object: beside its repository's mirror, laid out as git-lfs lays out `.git/lfs/objects`. */
export function lfsObjectKey(repository: RepositoryPath, oid: string): string {
  return `${lfsObjectsPrefix(repository)}${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
}

export function lfsObjectsPrefix(repository: RepositoryPath): string {
  return `${mirrorPrefix(repository)}lfs/objects/`;
}
