import type { z } from 'zod';

export interface IssueFormat {
  /** Prepended to every path, e.g. `body` → `body.queues`. */
  root?: string;
  /** Names the value itself when an issue has no path and there is no root (default `(value)`). */
  whole?: string;
  /** At most this many issues (default: all). */
  limit?: number;
  /** Names a path in the caller's own terms instead (e.g. an environment variable and its value). */
  name?: (path: readonly PropertyKey[]) => string;
}

/**
 * One line per zod issue, `<path>: <message>`; an unknown key reads `<path>.<key>: unknown field`
 * so a typo names the field it was meant to be. Every parser of outside input reports this way.
 */
export function issueLines(error: z.ZodError, opts: IssueFormat = {}): string[] {
  const issues = opts.limit === undefined ? error.issues : error.issues.slice(0, opts.limit);
  const where = (path: readonly PropertyKey[]) => {
    if (opts.name) return opts.name(path);
    const joined = [opts.root, ...path.map(String)].filter((p) => p !== undefined && p !== '').join('.');
    return joined || opts.whole || '(value)';
  };
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `${where([...issue.path, key])}: unknown field`)
      : [`${where(issue.path)}: ${issue.message}`],
  );
}

/** The lines joined: `a: …; b: …`. */
export function formatIssues(error: z.ZodError, opts: IssueFormat = {}): string {
  return issueLines(error, opts).join('; ');
}
