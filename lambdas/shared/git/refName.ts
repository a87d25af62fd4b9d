import * as z from 'zod';

export const ZERO_OID = '0000000000000000000000000000000000000000';
export const OID_PATTERN = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
export const MAX_REF_NAME_LENGTH = 1024;

/** True when `name` is a full ref name git itself would accept (git check-ref-format, simplified). */
export function isValidRefName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_REF_NAME_LENGTH) return false;
  if (!name.startsWith('refs/')) return false;
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(name)) return false;
  if (name.includes('..') || name.includes('@{') || name.includes('//')) return false;
  if (name.endsWith('/') || name.endsWith('.') || name.endsWith('.lock')) return false;
  return name.split('/').every((part) => part.length > 0 && !part.startsWith('.') && !part.endsWith('.lock'));
}

export const OidSchema = z.string().regex(OID_PATTERN, 'must be a 40 or 64 character lowercase hex object id');
export const RefNameSchema = z.string().refine(isValidRefName, 'must be a valid full ref name (refs/...)');
