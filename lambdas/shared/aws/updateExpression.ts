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
  return {
    UpdateExpression: clauses.join(' '),
    ExpressionAttributeNames: names,
    ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
  };
}
