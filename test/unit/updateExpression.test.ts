import { describe, expect, it } from '@jest/globals';
import { assertExpressionFits, MAX_EXPRESSION_BYTES, MAX_EXPRESSION_CLAUSES, updateExpression, type UpdateParts } from '../../lambdas/shared/aws/updateExpression.ts';
import { ExpressionTooLargeError } from '../../lambdas/shared/errors/index.ts';

/** DynamoDB rejects an update whose names or values are unused, or whose expression uses undefined ones. */
function expectConsistent(parts: UpdateParts): void {
  const usedNames = new Set(parts.UpdateExpression.match(/#n\d+/g) ?? []);
  const usedValues = new Set(parts.UpdateExpression.match(/:v\d+/g) ?? []);
  expect(new Set(Object.keys(parts.ExpressionAttributeNames))).toEqual(usedNames);
  expect(new Set(Object.keys(parts.ExpressionAttributeValues ?? {}))).toEqual(usedValues);
}

describe('updateExpression', () => {
  it('aliases every name in a SET, reserved words included', () => {
    const parts = updateExpression({ set: { status: 'synced', name: 'x' } });
    expect(parts.UpdateExpression).toMatch(/^SET #n\d+ = :v\d+, #n\d+ = :v\d+$/);
    expect(parts.UpdateExpression).not.toMatch(/status|name/);
    expect(Object.values(parts.ExpressionAttributeNames).sort()).toEqual(['name', 'status']);
    expectConsistent(parts);
  });

  it('pairs each name with its own value', () => {
    const parts = updateExpression({ set: { status: 'synced', attempts: 0, refs: { 'refs/heads/main': 'abc' } } });
    const pairs = parts.UpdateExpression.replace(/^SET /, '').split(', ');
    const assigned = Object.fromEntries(
      pairs.map((pair) => {
        const [name, value] = pair.split(' = ') as [string, string];
        return [parts.ExpressionAttributeNames[name], parts.ExpressionAttributeValues?.[value]];
      }),
    );
    expect(assigned).toEqual({ status: 'synced', attempts: 0, refs: { 'refs/heads/main': 'abc' } });
  });

  it('skips undefined values but keeps null, zero, false and empty strings', () => {
    const parts = updateExpression({ set: { gone: undefined, nothing: null, zero: 0, no: false, empty: '' } });
    expect(Object.values(parts.ExpressionAttributeNames).sort()).toEqual(['empty', 'no', 'nothing', 'zero']);
    expect(Object.values(parts.ExpressionAttributeValues ?? {})).toEqual([null, 0, false, '']);
    expectConsistent(parts);
  });

  it('writes ADD clauses with their numbers', () => {
    const parts = updateExpression({ add: { attempts: 1, bytes: 2048 } });
    expect(parts.UpdateExpression).toMatch(/^ADD #n\d+ :v\d+, #n\d+ :v\d+$/);
    const [first, second] = parts.UpdateExpression.replace(/^ADD /, '').split(', ').map((clause) => clause.split(' ') as [string, string]);
    expect(parts.ExpressionAttributeNames[first![0]]).toBe('attempts');
    expect(parts.ExpressionAttributeValues?.[first![1]]).toBe(1);
    expect(parts.ExpressionAttributeNames[second![0]]).toBe('bytes');
    expect(parts.ExpressionAttributeValues?.[second![1]]).toBe(2048);
    expectConsistent(parts);
  });

  it('writes REMOVE clauses without values', () => {
    const parts = updateExpression({ remove: ['lastError', 'nextAttemptAt'] });
    expect(parts.UpdateExpression).toMatch(/^REMOVE #n\d+, #n\d+$/);
    expect(Object.values(parts.ExpressionAttributeNames)).toEqual(['lastError', 'nextAttemptAt']);
    expect(parts).not.toHaveProperty('ExpressionAttributeValues');
    expectConsistent(parts);
  });

  it('combines SET, ADD and REMOVE with unique placeholders', () => {
    const parts = updateExpression({ set: { status: 'failed', updatedAt: 't' }, add: { attempts: 1 }, remove: ['lagMs'] });
    expect(parts.UpdateExpression).toMatch(/^SET .+ ADD .+ REMOVE .+$/);
    const names = parts.UpdateExpression.match(/#n\d+/g) ?? [];
    const values = parts.UpdateExpression.match(/:v\d+/g) ?? [];
    expect(new Set(names).size).toBe(4);
    expect(new Set(values).size).toBe(3);
    expectConsistent(parts);
  });

  it('treats a name with dots or brackets as one attribute, not a document path', () => {
    const parts = updateExpression({ set: { 'refs.main': 'x', 'a[0]': 'y' } });
    expect(Object.values(parts.ExpressionAttributeNames).sort()).toEqual(['a[0]', 'refs.main']);
    expect(parts.UpdateExpression).not.toContain('.');
    expect(parts.UpdateExpression).not.toContain('[');
  });

  it('leaves out clauses that have nothing in them', () => {
    const parts = updateExpression({ set: { a: undefined }, add: {}, remove: [] });
    expect(parts.UpdateExpression).toBe('');
    expect(parts.ExpressionAttributeNames).toEqual({});
    expect(parts).not.toHaveProperty('ExpressionAttributeValues');
  });

  it('refuses, clearly and before sending, an update with more clauses than one request may carry', () => {
    const set = Object.fromEntries(Array.from({ length: MAX_EXPRESSION_CLAUSES + 1 }, (_, index) => [`refs/heads/b${index}`, 'x']));
    expect(() => updateExpression({ set })).toThrow(ExpressionTooLargeError);
    expect(() => updateExpression({ set: Object.fromEntries(Object.entries(set).slice(1)) })).not.toThrow();
  });

  it('refuses an expression longer than 4 KB whatever its clause count', () => {
    expect(() => assertExpressionFits('x'.repeat(MAX_EXPRESSION_BYTES + 1), 1, 'test')).toThrow(/past DynamoDB's limits/);
    expect(() => assertExpressionFits('x'.repeat(MAX_EXPRESSION_BYTES), 1, 'test')).not.toThrow();
  });
});
