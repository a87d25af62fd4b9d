import { describe, expect, it } from '@jest/globals';
import { ValidationError } from '../../lambdas/shared/errors/index.ts';
import { MAX_REPOSITORY_PATH_LENGTH, parseRepositoryPath } from '../../lambdas/shared/repositoryPath.ts';

/** Calls parseRepositoryPath and answers the ValidationError it must throw. */
function rejection(input: unknown): ValidationError {
  try {
    parseRepositoryPath(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    const validation = error as ValidationError;
    expect(validation.code).toBe('ERR_VALIDATION');
    expect(validation.status).toBe(400);
    expect(validation.retryable).toBe(false);
    return validation;
  }
  throw new Error(`parseRepositoryPath accepted ${JSON.stringify(input)}`);
}

describe('parseRepositoryPath', () => {
  describe('accepts', () => {
    it.each([
      ['group/sub/project', 'group/sub/project'],
      ['project', 'project'],
      ['mike/diaspora', 'mike/diaspora'],
      ['group/project.git', 'group/project'],
      ['a.b_c-d/e', 'a.b_c-d/e'],
      ['org/.github', 'org/.github'],
      ['org/.github/profile', 'org/.github/profile'],
      ['org/.github.git', 'org/.github'],
      ['Group_1/Project-2', 'Group_1/Project-2'],
    ])('%j as %j', (input, expected) => {
      expect(parseRepositoryPath(input)).toBe(expected);
    });

    it('strips only one trailing .git', () => {
      expect(() => parseRepositoryPath('group/project.git.git')).toThrow(ValidationError);
    });

    it(`accepts a path of exactly ${MAX_REPOSITORY_PATH_LENGTH} characters, with or without .git`, () => {
      const path = `a/${'b'.repeat(MAX_REPOSITORY_PATH_LENGTH - 2)}`;
      expect(path).toHaveLength(MAX_REPOSITORY_PATH_LENGTH);
      expect(parseRepositoryPath(path)).toBe(path);
      expect(parseRepositoryPath(`${path}.git`)).toBe(path);
    });

    it('accepts 20 segments', () => {
      const path = Array.from({ length: 20 }, (_, i) => `s${i}`).join('/');
      expect(parseRepositoryPath(path)).toBe(path);
    });
  });

  describe('rejects', () => {
    it.each([
      ['a parent segment', '..'],
      ['a parent segment inside', 'a/../b'],
      ['an escape with a parent segment', '../etc/passwd'],
      ['a trailing parent segment', 'a/b/..'],
      ['a current-directory segment', '.'],
      ['a current-directory segment inside', 'a/./b'],
      ['an absolute path', '/x'],
      ['an absolute path with segments', '/group/project'],
      ['a backslash', 'a\\b'],
      ['a Windows parent escape', '..\\etc'],
      ['a newline', 'a\nb'],
      ['a trailing newline', 'group/project\n'],
      ['a NUL', 'a\u0000b'],
      ['a DEL', 'a\u007fb'],
      ['a tab', 'a\tb'],
      ['a carriage return', 'a\rb'],
      ['an empty segment', 'a//b'],
      ['a trailing slash', 'a/b/'],
      ['an empty string', ''],
      ['only .git', '.git'],
      ['a leading dash', '-rf'],
      ['a dash at the start of an inner segment', 'a/-b'],
      ['an inner segment ending in .git', 'a.git/b'],
      ['an inner segment that is .git', 'a/.git/b'],
      ['a segment ending in .lock', 'a/b.lock'],
      ['a first segment ending in .lock', 'a.lock/b'],
      ['a first segment starting with a dot', '.git-geo/x'],
      ['a space', 'a b'],
      ['a colon', 'a:b'],
      ['a percent-encoded escape', 'a/%2e%2e/b'],
      ['a query', 'a?b'],
      ['a non-ASCII letter', 'gr\u00fcn/project'],
    ])('%s (%j)', (_label, input) => {
      rejection(input);
    });

    it(`a path longer than ${MAX_REPOSITORY_PATH_LENGTH} characters`, () => {
      const error = rejection(`a/${'b'.repeat(MAX_REPOSITORY_PATH_LENGTH - 1)}`);
      expect(error.message).toMatch(/255/);
    });

    it('a path that is over-long only after .git is stripped', () => {
      rejection(`a/${'b'.repeat(MAX_REPOSITORY_PATH_LENGTH)}.git`);
    });

    it('a very long path, without echoing all of it', () => {
      const error = rejection('x'.repeat(100_000));
      expect(JSON.stringify(error.toJSON()).length).toBeLessThan(1000);
    });

    it('more than 20 segments', () => {
      const error = rejection(Array.from({ length: 21 }, () => 'a').join('/'));
      expect(error.message).toMatch(/segments/);
    });

    it.each([
      ['undefined', undefined],
      ['null', null],
      ['a number', 42],
      ['an object', { path: 'a/b' }],
      ['an array', ['a', 'b']],
      ['a String object', new String('a/b')],
    ])('non-string input: %s', (_label, input) => {
      const error = rejection(input);
      expect(error.message).toMatch(/must be a string/);
    });

    it('names the real problem for control characters', () => {
      expect(rejection('a/../\u0000').message).toMatch(/control characters/);
    });

    it('names the problem for ".." segments', () => {
      expect(rejection('a/../b').message).toMatch(/"\.\."/);
    });
  });
});
