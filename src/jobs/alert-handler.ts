import { UnrecoverableError } from 'bullmq';
import { isCallguardError } from '../domain/errors.js';
import { alertHoldId } from '../domain/hold.js';
import type { AlertEvent } from '../domain/alerts.js';
import type { Rule } from '../domain/types.js';
import type { AlertMarks } from '../store/alert-marks.js';
import { JOB } from './contract.js';
import { alertJobSchema } from './alert-job.js';
import type { HoldsPort } from './ports.js';
import { defineJob, type JobInfo } from './registry.js';

export interface AlertJobDeps {
  holds: HoldsPort;
  rules: Rule[];
  marks: Pick<AlertMarks, 'markResolved' | 'resolvedSince'>;
}

export interface AlertOutcome {
  hold: string;
  status: AlertEvent['status'];
  /** added / released: the ledger changed; unchanged: already held, or nothing to release. */
  result: 'added' | 'released' | 'unchanged' | 'added-then-released';
}

/**
 * The `alert` job: a firing alert adds hold `alert:<source>:<id>`, its resolved notice releases
 * exactly that hold. Both are idempotent.
 */
export function alertJob(deps: AlertJobDeps) {
  const rulesByName = new Map(deps.rules.map((r) => [r.name, r]));

  const scopeOf = (event: AlertEvent): string[] | undefined => {
    if (event.queues?.length) return event.queues;
    const rule = event.rule ? rulesByName.get(event.rule) : undefined;
    return rule && rule.queues !== 'all' ? rule.queues : undefined;
  };

  const resolve = async (job: JobInfo, event: AlertEvent, hold: string): Promise<AlertOutcome> => {
    await deps.marks.markResolved(hold, job.timestamp);
    const { released } = await deps.holds.releaseIds([hold], `alert:${event.source}`, `resolved: ${event.name}`);
    return { hold, status: event.status, result: released.length ? 'released' : 'unchanged' };
  };

  const fire = async (job: JobInfo, event: AlertEvent, hold: string): Promise<AlertOutcome> => {
    const changes = await deps.holds.addAlertHold({
      id: hold,
      by: `alert:${event.source}`,
      reason: event.reason === event.name ? event.name : `${event.name}: ${event.reason}`,
      queues: scopeOf(event),
      rule: event.rule,
      alertName: event.name,
      source: event.source,
    });
    // A resolved notice enqueued after this one may have run first. It marks the hold before
    // releasing; re-reading the mark after adding closes the gap.
    if (await deps.marks.resolvedSince(hold, job.timestamp)) {
      await deps.holds.releaseIds([hold], `alert:${event.source}`, `resolved before this firing notice was handled: ${event.name}`);
      return { hold, status: event.status, result: changes.length ? 'added-then-released' : 'released' };
    }
    return { hold, status: event.status, result: changes.length ? 'added' : 'unchanged' };
  };

  return defineJob({
    name: JOB.alert,
    schema: alertJobSchema,
    async handler({ alerts }, job) {
      const outcomes: AlertOutcome[] = [];
      for (const event of alerts) {
        const hold = alertHoldId(event);
        try {
          outcomes.push(await (event.status === 'resolved' ? resolve(job, event, hold) : fire(job, event, hold)));
        } catch (err) {
          // A bad scope (unknown queue) will not get better on retry.
          if (isCallguardError(err) && err.status < 500) throw new UnrecoverableError(`${hold}: ${err.message}`);
          throw err;
        }
      }
      return { outcomes };
    },
  });
}
