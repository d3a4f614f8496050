import { UnrecoverableError } from 'bullmq';
import { z } from 'zod';
import { JOB, errorReportSchema, reportCounts, reportOutcomes } from './contract.js';
import { outcomeCounts, readsOutcomes, verdict, type Counted } from '../domain/outcomes.js';
import { defineJob } from './registry.js';
import type { CountingPort, EvaluationPort } from './ports.js';
import type { Rule } from '../domain/types.js';

/**
 * `error-report`: counts errors and call outcomes (all of one job or none), then checks the rules
 * these counts tripped at once (fast trip).
 */
export function errorReportJob(rules: Rule[], counting: CountingPort, evaluation: EvaluationPort) {
  return defineJob({
    name: JOB.errorReport,
    schema: errorReportSchema,
    async handler(report, job) {
      // Per job: `rules` is the version in force, which another version may replace.
      const byName = new Map(rules.map((r) => [r.name, r]));
      const counts = reportCounts(report);
      const unknown = Object.keys(counts).filter((r) => !byName.has(r));
      if (unknown.length) throw new UnrecoverableError(`unknown rule: ${unknown.join(', ')}`);
      const outcomes = reportOutcomes(report);
      const entries: Array<[Counted, number]> = [
        ...Object.entries(counts).map(([name, n]) => [byName.get(name)!, n] as [Rule, number]),
        ...outcomeCounts(rules, outcomes),
      ];
      if (!entries.length) return { counted: {}, checked: [] };
      // Keyed by job id: a job BullMQ re-runs after a crash (or a batch resent with the same id) counts once.
      const { counted, sums } = await counting.recordReport(entries, `job:${job.id}`);
      if (!counted) return { counted: {}, duplicate: true, checked: [] };
      const windowSums = Object.fromEntries(entries.map(([c], i) => [c.name, sums[i]!]));
      const providers = Object.keys(outcomes);
      // A rule this report touched; judged as if probing (fewer calls needed), evaluation decides.
      const tripped = rules.filter(
        (r) =>
          (r.name in counts || (readsOutcomes(r) && r.providers!.some((p) => providers.includes(p)))) &&
          verdict(r, windowSums, true).tripped,
      );
      // Fast trip: check right after counting instead of waiting up to a minute for the tick.
      if (tripped.length) await evaluation.evaluate({ rules: tripped, full: false });
      return { counted: counts, checked: tripped.map((r) => r.name) };
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
