import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { isCallguardError, isServerFault } from '../domain/errors.js';
import { alertHoldId, type Hold } from '../domain/hold.js';
import type { AlertEvent } from '../domain/alerts.js';
import { BUILT_IN_PRINCIPALS } from '../domain/roles.js';
import type { Rule } from '../domain/types.js';
import type { AlertMarks } from '../store/alert-marks.js';
import type { JobReceipts } from '../store/job-receipts.js';
import { JOB } from './contract.js';
import { alertJobSchema } from './alert-job.js';
import type { JobPrincipal } from './job-signer.js';
import type { AuditPort, JobHoldsPort, JobVerifier } from './ports.js';
import { defineJob, type JobInfo } from './registry.js';

export interface AlertJobDeps {
  holds: JobHoldsPort;
  rules: Rule[];
  marks: Pick<AlertMarks, 'markResolved' | 'resolvedSince'>;
  /** Signed jobs already carried out: a copy re-added under the same id is refused. */
  receipts: Pick<JobReceipts, 'handled' | 'record'>;
  /** Who holds what (to leave another source's hold alone), the audit of refusals, and Redis' clock. */
  audit: AuditPort;
  verifier: JobVerifier;
  logger: Logger;
}

/** The principal of an unsigned job added straight to the events queue by a BullMQ client. */
export const BULLMQ_PRINCIPAL: JobPrincipal = { name: BUILT_IN_PRINCIPALS.unsignedJob, role: 'alerts' };

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

/**
 * Only the principal that placed a hold, or an admin, may release it. Holds from before holds named
 * their principal (`alert:<source>`) have no owner any principal can prove: only an admin releases those.
 */
function mayRelease(hold: Pick<Hold, 'by'>, who: JobPrincipal): boolean {
  return who.role === 'admin' || hold.by === who.name;
}

/**
 * The `alert` job: a firing alert adds hold `alert:<source>:<id>` by the principal that sent it;
 * its resolved notice releases exactly that hold, when sent by the same principal or an admin.
 * Both are idempotent. Each alert stands alone: one that cannot be applied is logged and audited,
 * and the others still take effect. A job whose principal is not vouched for by its signature
 * (signed for another job id, expired, or already carried out) is refused (logged and audited).
 *
 * Ownership holds on every path: the release itself checks the owner atomically (two requests
 * racing), a resolved notice refused for ownership leaves no mark, and a mark orders only its own
 * sender's firing notices, which release only a hold that sender placed.
 */
export function alertJob(deps: AlertJobDeps) {
  // `deps.rules` is the version in force (replaced in place by a newer one): looked up per alert.
  const ruleNamed = (name: string) => deps.rules.find((r) => r.name === name);
  const log = deps.logger.child({ component: 'alert-handler' });

  const scopeOf = (event: AlertEvent): string[] | undefined => {
    if (event.queues?.length) return event.queues;
    const rule = event.rule ? ruleNamed(event.rule) : undefined;
    return rule && rule.queues !== 'all' ? rule.queues : undefined;
  };

  const unknownRule = (event: AlertEvent) => event.rule !== undefined && !ruleNamed(event.rule) && !event.queues?.length;

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

  const resolve = async (at: Clock, event: AlertEvent, hold: string, who: JobPrincipal): Promise<AlertOutcome> => {
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
    await deps.marks.markResolved(hold, who.name, at.enqueuedAt, at.now);
    // Checked again inside the release step: another principal's hold placed since stays.
    const owner = who.role === 'admin' ? {} : { owner: who.name };
    const { released } = await deps.holds.releaseIds([hold], who.name, `resolved: ${event.name}`, owner);
    return { hold, status: event.status, result: released.length ? 'released' : 'unchanged' };
  };

  const fire = async (at: Clock, event: AlertEvent, hold: string, who: JobPrincipal): Promise<AlertOutcome> => {
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
    // A resolved notice from the same sender enqueued after this one may have run first. It marks
    // the hold before releasing; re-reading the mark after adding closes the gap. Only a hold this
    // sender placed is released that way (checked atomically), even for an admin.
    if (await deps.marks.resolvedSince(hold, who.name, at.enqueuedAt)) {
      const reason = `resolved before this firing notice was handled: ${event.name}`;
      const { released } = await deps.holds.releaseIds([hold], who.name, reason, { owner: who.name });
      if (released.length) return { hold, status: event.status, result: changes.length ? 'added-then-released' : 'released' };
    }
    return { hold, status: event.status, result: changes.length ? 'added' : 'unchanged' };
  };

  return defineJob({
    name: JOB.alert,
    schema: alertJobSchema,
    // Invalid data never reaches the handler; it is refused the same visible way.
    refused: (reason, job) => refuse(job, `invalid data: ${reason}`),
    async handler({ alerts, enqueued_at, expires_at }, job) {
      const now = await deps.audit.now();
      // Checked over the data as stored: the parsed copy may differ in key order and defaults.
      const verified = deps.verifier.verify(job.data, job, now);
      if (!verified.ok) return refuse(job, `forged principal: ${verified.reason}`);
      if (verified.principal && (await deps.receipts.handled(job.id!))) return refuse(job, `job ${job.id} was already carried out`);
      const who = verified.principal ?? BULLMQ_PRINCIPAL;
      // Times come from Redis: a signed job carries the time POST /health/alert read from Redis' clock;
      // anything else (unsigned, or no time) counts from now, never from a time its sender chose.
      const at: Clock = { now, enqueuedAt: verified.principal && enqueued_at !== undefined ? Math.min(enqueued_at, now) : now };
      const outcomes: AlertOutcome[] = [];
      for (const event of alerts) {
        const hold = alertHoldId(event);
        try {
          outcomes.push(await (event.status === 'resolved' ? resolve(at, event, hold, who) : fire(at, event, hold, who)));
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
      if (verified.principal && expires_at !== undefined) await deps.receipts.record(job.id!, expires_at);
      return { outcomes };
    },
  });
}

/** Redis' clock when the job ran, and when its notice was enqueued (never later than now). */
interface Clock {
  now: number;
  enqueuedAt: number;
}
