import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { JOB, errorReportSchema, reportCounts, reportOutcomes, ruleName } from './contract.js';
import { outcomeCounts, readsOutcomes, verdict, type Counted } from '../domain/outcomes.js';
import { defineJob } from './registry.js';
import type { CountingPort, EvaluationPort } from './ports.js';
import type { Rule } from '../domain/types.js';

/** Why a count was left out of a report: told to the metrics, listed in the job's result. */
export type DropReason = 'unknown_rule' | 'invalid_rule';

/**
 * `error-report`: counts errors and call outcomes (all of one job or none), then checks the rules
 * these counts tripped at once (fast trip). A count for a name that is no rule (unknown, or not a
 * rule name at all) is left out on its own and told to `onDropped`; the rest of the batch — other
 * rules' counts, a guarded worker's outcomes — is still counted.
 */
export function errorReportJob(
  rules: Rule[],
  counting: CountingPort,
  evaluation: EvaluationPort,
  onDropped: (reason: DropReason, count: number) => void = () => undefined,
) {
  return defineJob({
    name: JOB.errorReport,
    schema: errorReportSchema,
    async handler(report, job) {
      // Per job: `rules` is the version in force, which another version may replace.
      const byName = new Map(rules.map((r) => [r.name, r]));
      const counts: Record<string, number> = {};
      const drops: Array<[name: string, reason: DropReason, count: number]> = [];
      for (const [name, n] of Object.entries(reportCounts(report))) {
        const reason = !ruleName.safeParse(name).success ? 'invalid_rule' : byName.has(name) ? undefined : 'unknown_rule';
        if (reason) drops.push([name, reason, n]);
        else counts[name] = n;
      }
      // Told once the rest is in (a job retried after a Redis failure does not tell twice).
      const left = () => {
        for (const [, reason, n] of drops) onDropped(reason, n);
        return drops.length ? { dropped: Object.fromEntries(drops.map(([name, reason]) => [name.slice(0, 80), reason])) } : {};
      };
      const outcomes = reportOutcomes(report);
      const entries: Array<[Counted, number]> = [
        ...Object.entries(counts).map(([name, n]) => [byName.get(name)!, n] as [Rule, number]),
        ...outcomeCounts(rules, outcomes),
      ];
      if (!entries.length) {
        const { dropped } = left();
        // Nothing of it was a rule: fail the job where it shows (BullMQ's failed list), naming why.
        if (dropped) throw new UnrecoverableError(`unknown rule: ${Object.keys(dropped).join(', ')}`);
        return { counted: {}, checked: [] };
      }
      // Keyed by job id: a job BullMQ re-runs after a crash (or a batch resent with the same id) counts once.
      const { counted, sums } = await counting.recordReport(entries, `job:${job.id}`);
      const providers = Object.keys(outcomes);
      const touched = rules.filter((r) => r.name in counts || (readsOutcomes(r) && r.providers!.some((p) => providers.includes(p))));
      if (!counted) {
        // Counted by an earlier run of this job, which may have stopped before its fast trip.
        if (touched.length) await evaluation.evaluate({ rules: touched, full: false });
        return { counted: {}, duplicate: true, checked: [] };
      }
      const windowSums = Object.fromEntries(entries.map(([c], i) => [c.name, sums[i]!]));
      // A rule this report touched; judged as if probing (fewer calls needed), evaluation decides.
      const tripped = touched.filter((r) => verdict(r, windowSums, true).tripped);
      const result = { counted: counts, checked: tripped.map((r) => r.name), ...left() };
      // Fast trip: check right after counting instead of waiting up to a minute for the tick.
      if (tripped.length) await evaluation.evaluate({ rules: tripped, full: false });
      // After the trip path, and never failing the job: the count is in, this only feeds check-rules.
      if (providers.length) await counting.noteProviders(providers).catch(() => undefined);
      return result;
    },
  });
}

/** `evaluate`: the job scheduler's tick; its data is ignored. */
export function evaluateJob(evaluation: EvaluationPort) {
  return defineJob({
    name: JOB.evaluate,
    schema: z.unknown(),
    async handler() {
      const { changes } = await evaluation.evaluate({ full: true });
      return { changes: changes.map((c) => `${c.event} ${c.hold.id}`) };
    },
  });
}
