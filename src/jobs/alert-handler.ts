import { formatIssues } from '../domain/zod-issues.js';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Control } from '../engine/control.js';
import { isCallguardError } from '../domain/errors.js';
import type { JobHandler } from './worker.js';
import type { Keys } from '../store/keys.js';
import type { CallguardRedis } from '../store/redis.js';
import type { Rule } from '../domain/types.js';
import type { AlertEvent } from '../domain/alerts.js';
import { alertHoldId, alertJobSchema } from './alert-job.js';

export interface AlertHandlerDeps {
  control: Control;
  rules: Rule[];
  redis: CallguardRedis;
  keys: Keys;
}

// Long enough to outlast any worker backlog between a firing notice and its resolved one.
const RESOLVED_MARK_MS = 24 * 60 * 60_000;

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
export function alertHandler(deps: AlertHandlerDeps): JobHandler {
  const rulesByName = new Map(deps.rules.map((r) => [r.name, r]));

  const scopeOf = (event: AlertEvent): string[] | undefined => {
    if (event.queues?.length) return event.queues;
    const rule = event.rule ? rulesByName.get(event.rule) : undefined;
    return rule && rule.queues !== 'all' ? rule.queues : undefined;
  };

  const resolve = async (job: Job, event: AlertEvent, hold: string): Promise<AlertOutcome> => {
    await deps.redis.set(deps.keys.alertResolved(hold), String(job.timestamp), 'PX', RESOLVED_MARK_MS);
    const { released } = await deps.control.releaseIds([hold], `alert:${event.source}`, `resolved: ${event.name}`);
    return { hold, status: event.status, result: released.length ? 'released' : 'unchanged' };
  };

  const fire = async (job: Job, event: AlertEvent, hold: string): Promise<AlertOutcome> => {
    const changes = await deps.control.addAlertHold({
      id: hold,
      by: `alert:${event.source}`,
      reason: event.reason === event.name ? event.name : `${event.name}: ${event.reason}`,
      queues: scopeOf(event),
      rule: event.rule,
      alertName: event.name,
      source: event.source,
    });
    // The worker runs jobs concurrently, so a resolved notice enqueued after this one may have run
    // first. It marks the hold before releasing; re-reading the mark after adding closes the gap.
    const resolvedAt = await deps.redis.get(deps.keys.alertResolved(hold));
    if (resolvedAt !== null && Number(resolvedAt) >= job.timestamp) {
      await deps.control.releaseIds([hold], `alert:${event.source}`, `resolved before this firing notice was handled: ${event.name}`);
      return { hold, status: event.status, result: changes.length ? 'added-then-released' : 'released' };
    }
    return { hold, status: event.status, result: changes.length ? 'added' : 'unchanged' };
  };

  return async (job) => {
    const parsed = alertJobSchema.safeParse(job.data);
    if (!parsed.success) {
      throw new UnrecoverableError(`invalid alert job data: ${formatIssues(parsed.error, { whole: '(data)', limit: 5 })}`);
    }
    const outcomes: AlertOutcome[] = [];
    for (const event of parsed.data.alerts as AlertEvent[]) {
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
  };
}
