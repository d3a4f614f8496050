import { z } from 'zod';
import { PROVIDER_NAME } from '../domain/rules.js';
import type { ProviderOutcomes } from '../domain/outcomes.js';

/**
 * Public contract of the `events` queue (prefix CALLGUARD_PREFIX). Any BullMQ client — Node,
 * Python, Go — can add these jobs. Documented in docs/; a versioned contract (docs/contracts.md).
 */
export const JOB = {
  errorReport: 'error-report',
  alert: 'alert',
  evaluate: 'evaluate',
} as const;

/**
 * Completed events jobs kept (queue-wide: BullMQ trims by the finishing job's own setting, so every
 * job on the queue says the same or each would cut the others' results short).
 */
export const EVENTS_KEEP_COMPLETED = 1000;

export const ruleName = z.string().min(1).max(64);
/** The largest count per rule one report (an error-report job, a POST) may carry; clients/python has a copy. */
export const MAX_COUNT = 1_000_000;

const count = z.number().int().positive().max(MAX_COUNT);

const tally = z.number().int().min(0).max(MAX_COUNT);

/** One provider's calls since the last flush of a guarded worker; `slow` maps slow_call_ms → calls at least that slow. */
const providerOutcomes = z
  .object({
    calls: count,
    failures: tally,
    slow: z.record(z.string().regex(/^[1-9]\d{0,8}$/, 'slow_call_ms as a whole number'), tally).optional(),
  })
  .strict()
  .refine(
    (o) => o.failures <= o.calls && Object.values(o.slow ?? {}).every((n) => n <= o.calls),
    'failures and slow calls cannot exceed calls',
  );

/** `{rule, count?}`: one rule's errors, as an error-report job and POST /health/errors take them. */
export const ruleCountSchema = z.strictObject({ rule: ruleName, count: count.default(1) });

/**
 * `{rule, count?}` for one rule, or `{counts: {rule: n}}` as the coalescing reporter sends, with
 * `outcomes: {provider: {calls, failures, slow?}}` from guarded workers (either or both).
 */
export const errorReportSchema = z.union([
  ruleCountSchema,
  z
    .object({
      // Any key: a name that is not a rule's is left out on its own by the job (counted as dropped), never the whole batch.
      counts: z
        .record(z.string(), count)
        .refine((c) => Object.keys(c).length > 0, 'counts is empty')
        .optional(),
      outcomes: z
        .record(z.string().regex(PROVIDER_NAME, 'provider name'), providerOutcomes)
        .refine((o) => Object.keys(o).length > 0, 'outcomes is empty')
        .optional(),
    })
    .strict()
    .refine((r) => r.counts || r.outcomes, 'counts or outcomes is required'),
]);

export type ErrorReport = z.infer<typeof errorReportSchema>;

/** Flattens either form into rule → count. */
export function reportCounts(report: ErrorReport): Record<string, number> {
  return 'rule' in report ? { [report.rule]: report.count } : (report.counts ?? {});
}

export function reportOutcomes(report: ErrorReport): Record<string, ProviderOutcomes> {
  return 'outcomes' in report ? (report.outcomes ?? {}) : {};
}
