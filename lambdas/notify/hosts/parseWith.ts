import type { z } from 'zod';
import { ValidationError } from '../../shared/errors/index.ts';

/** Validates a payload against a vendor schema; the error names the fields that are wrong. */
export function parseWith<Schema extends z.ZodType>(schema: Schema, json: unknown, what: string): z.infer<Schema> {
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new ValidationError(`malformed ${what} payload`, {
      data: { issues: result.error.issues.slice(0, 10).map((issue) => `${issue.path.join('.')}: ${issue.message}`) },
    });
  }
  return result.data;
}
