import * as z from 'zod';

export const ZERO_OID = '0000000000000000000000000000000000000000';
export const OID_PATTERN = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
export const MAX_REF_NAME_LENGTH = 1024;

/**
 * One pass over a name that starts with `refs/` (run per ref: 100,000 on a sync): a forbidden
 * character, `..`, `@{`, an empty component (`//`, a trailing `/`), a component that starts with
 * `.` or ends with `.lock`, or a name ending in `.`.
 */
const INVALID_IN_REF_NAME = /[\u0000-\u0020\u007f~^:?*[\\]|\.\.|@\{|\/\/|\/\.|\.lock(?:\/|$)|[/.]$/;

/** True when `name` is a full ref name git itself would accept (git check-ref-format, simplified). */
export function isValidRefName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_REF_NAME_LENGTH) return false;
  return name.startsWith('refs/') && !INVALID_IN_REF_NAME.test(name);
}

export const OidSchema = z.string().regex(OID_PATTERN, 'must be a 40 or 64 character lowercase hex object id');
export const RefNameSchema = z.string().refine(isValidRefName, 'must be a valid full ref name (refs/...)');
