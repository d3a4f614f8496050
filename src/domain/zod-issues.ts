import type { z } from 'zod';

/** One line naming each problem (the first five): `field: message`; `root` names the whole value. */
export function formatIssues(error: z.ZodError, root = '(data)'): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const field = issue.path.length ? issue.path.map(String).join('.') : root;
      if (issue.code === 'unrecognized_keys') return `${field}: unknown field(s) ${issue.keys.join(', ')}`;
      return `${field}: ${issue.message}`;
    })
    .join('; ');
}
