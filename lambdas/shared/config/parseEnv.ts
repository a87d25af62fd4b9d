import type { z } from 'zod';
import { ConfigurationError } from '../errors/index.ts';

/**
 * Reads a function's configuration from its environment once, at cold start.
 * Anything missing or malformed stops the function with one message naming every problem.
 */
export function parseEnv<Schema extends z.ZodType>(
  schema: Schema,
  env: Readonly<Record<string, string | undefined>>,
  functionName: string,
): z.infer<Schema> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
    throw new ConfigurationError(`${functionName} cannot start: ${problems.join('; ')}`, { data: { problems } });
  }
  return result.data;
}
