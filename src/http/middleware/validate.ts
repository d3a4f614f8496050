import type { z } from 'zod';
import { ValidationError } from '../../domain/errors.js';
import { formatIssues } from '../../domain/zod-issues.js';

/** Parses with a zod schema; failures become one ValidationError naming each field. */
export function validate<T extends z.ZodType>(schema: T, value: unknown, what = 'body'): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(formatIssues(result.error, { root: what, limit: 5 }));
}
