import { ValidationError } from './errors/index.ts';

/** A repository path that is safe to use in an S3 key, a URL and a log line. */
export type RepositoryPath = string & { readonly __brand: 'RepositoryPath' };

export const MAX_REPOSITORY_PATH_LENGTH = 255;
const MAX_SEGMENTS = 20;
// First segment is a namespace: it may not start with '.', so '.git-geo/' stays free for our own keys.
const FIRST_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;
const SEGMENT = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;

/**
 * Validates a repository path such as `group/sub/project` (a trailing `.git` is dropped).
 * Rejects anything that could escape its prefix or confuse git: `..`, absolute paths,
 * empty segments, control characters, a leading `-`, inner `.git` segments, over-long paths.
 */
export function parseRepositoryPath(input: unknown): RepositoryPath {
  if (typeof input !== 'string') {
    throw new ValidationError('repository path must be a string', { data: { received: typeof input } });
  }
  const reject = (reason: string): never => {
    throw new ValidationError(`invalid repository path: ${reason}`, {
      data: { path: JSON.stringify(input.slice(0, MAX_REPOSITORY_PATH_LENGTH + 10)) },
    });
  };
  if (input.length === 0) reject('empty');
  if (input.length > MAX_REPOSITORY_PATH_LENGTH + 4) reject(`longer than ${MAX_REPOSITORY_PATH_LENGTH} characters`);
  // Checked before anything else so the message names the real problem.
  if (/[\u0000-\u001f\u007f]/.test(input)) reject('contains control characters');
  if (input.startsWith('/')) reject('must be relative, not absolute');
  if (input.includes('\\')) reject('contains a backslash');
  const path = input.endsWith('.git') ? input.slice(0, -'.git'.length) : input;
  if (path.length === 0 || path.length > MAX_REPOSITORY_PATH_LENGTH) {
    reject(`must be 1 to ${MAX_REPOSITORY_PATH_LENGTH} characters`);
  }
  const segments = path.split('/');
  if (segments.length > MAX_SEGMENTS) reject(`more than ${MAX_SEGMENTS} segments`);
  segments.forEach((segment, index) => {
    if (segment === '') reject('has an empty segment');
    if (segment === '.' || segment === '..') reject('has a "." or ".." segment');
    if (segment.endsWith('.git')) reject('only the last segment may end in .git');
    if (segment.endsWith('.lock')) reject('a segment may not end in .lock');
    if (!(index === 0 ? FIRST_SEGMENT : SEGMENT).test(segment)) {
      reject(`segment ${JSON.stringify(segment)} may hold only letters, digits, ".", "_" and "-", and may not start with "-"`);
    }
  });
  return path as RepositoryPath;
}
