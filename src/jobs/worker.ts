import { formatIssues } from '../domain/zod-issues.js';
import { UnrecoverableError, Worker, type Job, type ConnectionOptions } from 'bullmq';
import type { Counters } from '../store/counters.js';
import type { Evaluator } from '../engine/evaluator.js';
import { EVENTS_QUEUE } from '../store/keys.js';
import { JOB, errorReportSchema, reportCounts } from './contract.js';
import type { Logger } from '../ops/logger.js';
import type { Rule } from '../domain/types.js';

export type JobHandler = (job: Job) => Promise<unknown>;

/**
 * One handler per job name on the `events` queue. Other features (alerts, Slack actions)
 * register their own handlers here.
 */
export function coreHandlers(rules: Rule[], counters: Counters, evaluator: Evaluator): Record<string, JobHandler> {
  const byName = new Map(rules.map((r) => [r.name, r]));
  return {
    [JOB.errorReport]: async (job) => {
      const parsed = errorReportSchema.safeParse(job.data);
      if (!parsed.success) {
        throw new UnrecoverableError(`invalid error-report data: ${formatIssues(parsed.error, { whole: '(data)' })}`);
      }
      const counts = reportCounts(parsed.data);
      const unknown = Object.keys(counts).filter((r) => !byName.has(r));
      if (unknown.length) throw new UnrecoverableError(`unknown rule: ${unknown.join(', ')}`);
      const tripped: Rule[] = [];
      for (const [name, n] of Object.entries(counts)) {
        const rule = byName.get(name)!;
        const { sum } = await counters.record(rule, n);
        if (sum >= rule.thresholdCount) tripped.push(rule);
      }
      // Fast trip: check right after counting instead of waiting up to a minute for the tick.
      if (tripped.length) await evaluator.evaluate({ rules: tripped, full: false });
      return { counted: counts, checked: tripped.map((r) => r.name) };
    },
    [JOB.evaluate]: async () => {
      const { changes } = await evaluator.evaluate({ full: true });
      return { changes: changes.map((c) => `${c.event} ${c.hold.id}`) };
    },
  };
}

export function startHealthWorker(opts: {
  connection: ConnectionOptions;
  prefix: string;
  handlers: Record<string, JobHandler>;
  logger: Logger;
  concurrency?: number;
}): Worker {
  const worker = new Worker(
    EVENTS_QUEUE,
    async (job) => {
      const handler = opts.handlers[job.name];
      if (!handler) throw new UnrecoverableError(`unknown job name "${job.name}"`);
      return handler(job);
    },
    { connection: opts.connection, prefix: opts.prefix, concurrency: opts.concurrency ?? 4 },
  );
  worker.on('failed', (job, err) => opts.logger.warn({ job: job?.name, id: job?.id, err: err.message }, 'events job failed'));
  worker.on('error', (err) => opts.logger.error({ err: err.message }, 'health worker error'));
  return worker;
}
