import { z } from 'zod';

/**
 * Public contract of the `events` queue (prefix CALLGUARD_PREFIX). Any BullMQ client — Node,
 * Python, Go — can add these jobs. Documented in README.md; change only with a version note.
 */
export const JOB = {
  errorReport: 'error-report',
  alert: 'alert',
  evaluate: 'evaluate',
} as const;

const ruleName = z.string().min(1).max(64);
const count = z.number().int().positive().max(1_000_000);

/** `{rule, count?}` for one rule, or `{counts: {rule: n}}` as the coalescing reporter sends. */
export const errorReportSchema = z.union([
  z.object({ rule: ruleName, count: count.default(1) }).strict(),
  z.object({ counts: z.record(ruleName, count).refine((c) => Object.keys(c).length > 0, 'counts is empty') }).strict(),
]);

export type ErrorReport = z.infer<typeof errorReportSchema>;

/** Flattens either form into rule → count. */
export function reportCounts(report: ErrorReport): Record<string, number> {
  return 'counts' in report ? report.counts : { [report.rule]: report.count };
}
