import { describe, expect, it } from '@jest/globals';
import {
  AuthenticationError,
  GeoError,
  PrimaryUnavailableError,
  ProtocolError,
  ValidationError,
} from '../../lambdas/shared/errors/index.ts';

describe('GeoError', () => {
  it('carries a stable code, an HTTP status, retryability and the class name', () => {
    const error = new PrimaryUnavailableError('primary timed out', { data: { url: 'https://gitlab.example.com' } });
    expect(error).toBeInstanceOf(Error);
    expect(error).toBeInstanceOf(GeoError);
    expect(error.name).toBe('PrimaryUnavailableError');
    expect(error.code).toBe('ERR_PRIMARY_UNAVAILABLE');
    expect(error.status).toBe(503);
    expect(error.retryable).toBe(true);
    expect(error.data).toEqual({ url: 'https://gitlab.example.com' });
    const validation = new ValidationError('bad');
    expect(validation.status).toBe(400);
    expect(validation.retryable).toBe(false);
    expect(validation.data).toEqual({});
  });

  describe('toJSON', () => {
    it('shows the code, message and data, and no cause when there is none', () => {
      const json = new ValidationError('invalid repository path: empty', { data: { path: '""' } }).toJSON();
      expect(json).toEqual({ code: 'ERR_VALIDATION', message: 'invalid repository path: empty', data: { path: '""' } });
      expect(json).not.toHaveProperty('cause');
    });

    it('is what JSON.stringify writes', () => {
      const error = new AuthenticationError('missing X-Gitlab-Token header');
      expect(JSON.parse(JSON.stringify(error))).toEqual({ code: 'ERR_UNAUTHENTICATED', message: 'missing X-Gitlab-Token header', data: {} });
    });

    it('includes the whole chain of GeoError causes', () => {
      const root = new ProtocolError('info/refs has a malformed line', { data: { line: 'x' } });
      const middle = new PrimaryUnavailableError('fetch failed', { cause: root });
      const top = new ValidationError('sync failed', { cause: middle });
      expect(top.toJSON()).toEqual({
        code: 'ERR_VALIDATION',
        message: 'sync failed',
        data: {},
        cause: {
          code: 'ERR_PRIMARY_UNAVAILABLE',
          message: 'fetch failed',
          data: {},
          cause: { code: 'ERR_PROTOCOL', message: 'info/refs has a malformed line', data: { line: 'x' } },
        },
      });
    });

    it('describes a plain Error cause by name, message and a short stack', () => {
      const cause = new TypeError('boom');
      const json = new PrimaryUnavailableError('primary unreachable', { cause }).toJSON();
      const described = json.cause as { name: string; message: string; stack?: string };
      expect(described.name).toBe('TypeError');
      expect(described.message).toBe('boom');
      expect(described.stack?.split('\n').length).toBeLessThanOrEqual(6);
      expect(described.stack).toMatch(/^TypeError: boom/);
    });

    it("keeps a plain Error's own cause (fetch failed -> ECONNREFUSED)", () => {
      const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:443'), { code: 'ECONNREFUSED' });
      const fetchFailed = new TypeError('fetch failed', { cause: refused });
      const json = JSON.stringify(new PrimaryUnavailableError('primary unreachable', { cause: fetchFailed }));
      expect(json).toContain('fetch failed');
      expect(json).toContain('ECONNREFUSED');
    });

    it.each([
      ['a string', 'socket hang up'],
      ['a number', 42],
      ['null', null],
      ['a plain object', { statusCode: 502 }],
      ['an array', ['a', 1]],
      ['false', false],
    ])('keeps a non-Error cause (%s) as it is, and JSON.stringify works', (_label, cause) => {
      const error = new PrimaryUnavailableError('primary answered oddly', { cause });
      const json = error.toJSON();
      expect(json.cause).toEqual(cause);
      expect(JSON.parse(JSON.stringify(error))).toHaveProperty('cause', cause);
    });

    it.each([
      ['a bigint', () => 10n],
      ['a symbol', () => Symbol('why')],
      ['a function', () => () => 1],
      ['a circular object', () => {
        const circular: Record<string, unknown> = { name: 'loop' };
        circular.self = circular;
        return circular;
      }],
      ['an object with a throwing getter', () => ({
        get message(): string {
          throw new Error('getter');
        },
      })],
      ['an object without a prototype', () => Object.create(null) as unknown],
      ['an Error whose stack is not a string', () => Object.assign(new Error('odd'), { stack: 42 })],
    ])('never throws for an unusual cause (%s)', (_label, make) => {
      const error = new PrimaryUnavailableError('primary answered oddly', { cause: make() });
      expect(() => error.toJSON()).not.toThrow();
    });

    it('terminates on a cycle of causes', () => {
      const a = new ProtocolError('a');
      const b = new ProtocolError('b', { cause: a });
      Object.defineProperty(a, 'cause', { value: b, configurable: true, writable: true });
      expect(() => JSON.stringify(a.toJSON())).not.toThrow();
    });
  });
});
