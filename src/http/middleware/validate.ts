import type { z } from 'zod';
import { ValidationError } from '../../domain/errors.js';

/** Parses with a zod schema; failures become one ValidationError naming each field. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, what = 'body'): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.slice(0, 5).map((issue) => {
    const field = [what, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') return `${field}: unknown field(s) ${issue.keys.join(', ')}`;
    return `${field}: ${issue.message}`;
  });
  throw new ValidationError(problems.join('; '));
}
