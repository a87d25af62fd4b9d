import { ExpressionTooLargeError } from '../errors/ExpressionTooLargeError.ts';

/** DynamoDB refuses an expression string longer than this many bytes (ValidationException). */
export const MAX_EXPRESSION_BYTES = 4096;
/**
 * Clauses (assignments, removals, additions) git-geo puts in one update expression. DynamoDB allows
 * 300 operators per expression; moto 5.2 already fails (HTTP 500) between 150 and 160 clauses.
 */
export const MAX_EXPRESSION_CLAUSES = 100;

/**
 * Throws ExpressionTooLargeError when an expression would exceed DynamoDB's limits, so an oversized
 * write fails here, clearly, before anything is sent, instead of as a 500 or ValidationException.
 */
export function assertExpressionFits(expression: string, clauses: number, what: string): void {
  const bytes = Buffer.byteLength(expression, 'utf8');
  if (bytes > MAX_EXPRESSION_BYTES || clauses > MAX_EXPRESSION_CLAUSES) {
    throw new ExpressionTooLargeError(
      `${what}: ${clauses} clauses in ${bytes} bytes is past DynamoDB's limits (${MAX_EXPRESSION_CLAUSES} clauses, ${MAX_EXPRESSION_BYTES} bytes); split it`,
      { data: { bytes, clauses, maxBytes: MAX_EXPRESSION_BYTES, maxClauses: MAX_EXPRESSION_CLAUSES } },
    );
  }
}

export interface UpdateParts {
  UpdateExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  ExpressionAttributeValues?: Record<string, unknown>;
}

/**
 * Builds a DynamoDB update from plain objects: `set` assigns (undefined values are skipped),
 * `remove` deletes attributes, `add` adds numbers. Every name is aliased, so reserved words
 * such as `status` need no thought.
 */
export function updateExpression(parts: {
  set?: Record<string, unknown>;
  remove?: readonly string[];
  add?: Record<string, number>;
}): UpdateParts {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses: string[] = [];
  let index = 0;
  const alias = (name: string): string => {
    const key = `#n${index++}`;
    names[key] = name;
    return key;
  };
  const sets = Object.entries(parts.set ?? {})
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => {
      const key = alias(name);
      values[`:v${index}`] = value;
      return `${key} = :v${index}`;
    });
  if (sets.length > 0) clauses.push(`SET ${sets.join(', ')}`);
  const adds = Object.entries(parts.add ?? {}).map(([name, value]) => {
    const key = alias(name);
    values[`:v${index}`] = value;
    return `${key} :v${index}`;
  });
  if (adds.length > 0) clauses.push(`ADD ${adds.join(', ')}`);
  const removes = (parts.remove ?? []).map(alias);
  if (removes.length > 0) clauses.push(`REMOVE ${removes.join(', ')}`);
  const UpdateExpression = clauses.join(' ');
  assertExpressionFits(UpdateExpression, sets.length + adds.length + removes.length, 'update expression');
  return {
    UpdateExpression,
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}
