import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { isCallguardError, isServerFault } from '../domain/errors.js';
import { alertHoldId, type Hold } from '../domain/hold.js';
import type { AlertEvent } from '../domain/alerts.js';
import type { Rule } from '../domain/types.js';
import type { AlertMarks } from '../store/alert-marks.js';
import { JOB } from './contract.js';
import { alertJobSchema } from './alert-job.js';
import type { JobPrincipal } from './job-signer.js';
import type { AuditPort, HoldsPort, JobVerifier } from './ports.js';
import { defineJob, type JobInfo } from './registry.js';

export interface AlertJobDeps {
  holds: HoldsPort;
  rules: Rule[];
  marks: Pick<AlertMarks, 'markResolved' | 'resolvedSince'>;
  /** Who holds what (to leave another source's hold alone), and the audit of refusals. */
  audit: AuditPort;
  verifier: JobVerifier;
  logger: Logger;
}

/** The principal of an unsigned job added straight to the events queue by a BullMQ client. */
export const BULLMQ_PRINCIPAL: JobPrincipal = { name: 'bullmq', role: 'alerts' };

export interface AlertOutcome {
  hold: string;
  status: AlertEvent['status'];
  /**
   * added / released: the ledger changed; unchanged: already held, or nothing to release;
   * not-owner: another source's hold, left alone; failed: this alert could not be applied.
   */
  result: 'added' | 'released' | 'unchanged' | 'added-then-released' | 'not-owner' | 'failed';
  error?: string;
}

/** Holds placed before holds named their principal read `alert:<source>`: any alerts principal may release those. */
const legacyAuthor = (by: string) => by.startsWith('alert:');

function mayRelease(hold: Pick<Hold, 'by'>, who: JobPrincipal): boolean {
  return who.role === 'admin' || hold.by === who.name || legacyAuthor(hold.by);
}

/**
 * The `alert` job: a firing alert adds hold `alert:<source>:<id>` by the principal that sent it;
 * its resolved notice releases exactly that hold, when sent by the same principal or an admin.
 * Both are idempotent. Each alert stands alone: one that cannot be applied is logged and audited,
 * and the others still take effect. A job whose principal is not vouched for by its signature is
 * refused (logged and audited).
 */
export function alertJob(deps: AlertJobDeps) {
  const rulesByName = new Map(deps.rules.map((r) => [r.name, r]));
  const log = deps.logger.child({ component: 'alert-handler' });

  const scopeOf = (event: AlertEvent): string[] | undefined => {
    if (event.queues?.length) return event.queues;
    const rule = event.rule ? rulesByName.get(event.rule) : undefined;
    return rule && rule.queues !== 'all' ? rule.queues : undefined;
  };

  const unknownRule = (event: AlertEvent) => event.rule !== undefined && !rulesByName.has(event.rule) && !event.queues?.length;

  const reasonOf = (event: AlertEvent): string => {
    const reason = event.reason === event.name ? event.name : `${event.name}: ${event.reason}`;
    // Fail closed, but say so: a typo in callguard_rule must not pause every queue silently.
    return unknownRule(event) ? `${reason} (label callguard_rule names unknown rule "${event.rule}"; pausing every queue)` : reason;
  };

  const refuse = async (job: JobInfo, reason: string): Promise<never> => {
    log.error({ job: job.id, reason }, 'alert job refused');
    await deps.audit.appendAudit({
      event: 'job-refused',
      hold: '',
      kind: 'alert',
      by: 'callguard',
      reason: `alert job ${job.id}: ${reason}`,
      paused: [],
      resumed: [],
    });
    throw new UnrecoverableError(`alert job refused: ${reason}`);
  };

  const resolve = async (enqueuedAt: number, event: AlertEvent, hold: string, who: JobPrincipal): Promise<AlertOutcome> => {
    await deps.marks.markResolved(hold, enqueuedAt);
    // An alert beyond CALLGUARD_MAX_ALERT_HOLDS is held by the overflow hold; it still has an owner.
    const member = await deps.audit.overflowMember(hold);
    const existing = (await deps.audit.list()).find((h) => h.id === hold) ?? (member !== undefined ? { by: member } : undefined);
    if (existing && !mayRelease(existing, who)) {
      log.warn({ hold, by: who.name, owner: existing.by }, 'resolved notice for a hold another source placed; left alone');
      await deps.audit.appendAudit({
        event: 'release-refused',
        hold,
        kind: 'alert',
        by: who.name,
        reason: `resolved: ${event.name}; the hold belongs to ${existing.by}`,
        paused: [],
        resumed: [],
      });
      return { hold, status: event.status, result: 'not-owner' };
    }
    const { released } = await deps.holds.releaseIds([hold], who.name, `resolved: ${event.name}`);
    return { hold, status: event.status, result: released.length ? 'released' : 'unchanged' };
  };

  const fire = async (enqueuedAt: number, event: AlertEvent, hold: string, who: JobPrincipal): Promise<AlertOutcome> => {
    if (unknownRule(event))
      log.warn({ hold, rule: event.rule, by: who.name }, 'alert names an unknown callguard_rule; its hold pauses every queue');
    const changes = await deps.holds.addAlertHold({
      id: hold,
      by: who.name,
      reason: reasonOf(event),
      queues: scopeOf(event),
      rule: event.rule,
      alertName: event.name,
      source: event.source,
    });
    // A resolved notice enqueued after this one may have run first. It marks the hold before
    // releasing; re-reading the mark after adding closes the gap.
    if (await deps.marks.resolvedSince(hold, enqueuedAt)) {
      await deps.holds.releaseIds([hold], who.name, `resolved before this firing notice was handled: ${event.name}`);
      return { hold, status: event.status, result: changes.length ? 'added-then-released' : 'released' };
    }
    return { hold, status: event.status, result: changes.length ? 'added' : 'unchanged' };
  };

  return defineJob({
    name: JOB.alert,
    schema: alertJobSchema,
    // Invalid data never reaches the handler; it is refused the same visible way.
    refused: (reason, job) => refuse(job, `invalid data: ${reason}`),
    async handler({ alerts, enqueued_at }, job) {
      // Redis' clock when POST /health/alert stamped it; a job from another client falls back to its own clock.
      const enqueuedAt = enqueued_at ?? job.timestamp;
      // Checked over the data as stored: the parsed copy may differ in key order and defaults.
      const verified = deps.verifier.verify(job.data);
      if (!verified.ok) return refuse(job, `forged principal: ${verified.reason}`);
      const who = verified.principal ?? BULLMQ_PRINCIPAL;
      const outcomes: AlertOutcome[] = [];
      for (const event of alerts) {
        const hold = alertHoldId(event);
        try {
          outcomes.push(await (event.status === 'resolved' ? resolve(enqueuedAt, event, hold, who) : fire(enqueuedAt, event, hold, who)));
        } catch (err) {
          // Redis trouble: retry the job (every step is idempotent). A bad alert will not get better.
          if (!isCallguardError(err) || isServerFault(err)) throw err;
          log.error({ job: job.id, hold, err: err.message }, 'alert could not be applied');
          await deps.audit.appendAudit({
            event: 'alert-failed',
            hold,
            kind: 'alert',
            by: who.name,
            reason: `${event.status} ${event.name}: ${err.message}`,
            paused: [],
            resumed: [],
          });
          outcomes.push({ hold, status: event.status, result: 'failed', error: err.message });
        }
      }
      return { outcomes };
    },
  });
}
