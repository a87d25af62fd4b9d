import { ValidationError } from '../errors/index.ts';
import { ChangeEventSchema, type ChangeEvent } from './ChangeEvent.ts';

/** Parses a change event from a queue message body; a bad body is a permanent ValidationError. */
export function parseChangeEvent(body: string): ChangeEvent {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (cause) {
    throw new ValidationError('change event is not valid JSON', { cause });
  }
  const result = ChangeEventSchema.safeParse(json);
  if (!result.success) {
    throw new ValidationError('change event does not match the schema', {
      data: { issues: result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) },
    });
  }
  return result.data;
}
