import { UnknownRuleError, ValidationError } from '../../domain/errors.js';
import { alertEventSchema, parseAlertBatch, type AlertEvent, type RejectedAlert } from '../../domain/alerts.js';
import { formatIssues } from '../../domain/zod-issues.js';
import type { IngestPort } from './ports.js';

export interface Admitted {
  events: AlertEvent[];
  /** Alerts of the group left out, by index in the body's `alerts`. */
  rejected: RejectedAlert[];
  /** Alerts that name a callguard_rule nobody configured: they pause every queue. */
  unknownRules: Array<{ index: number; rule: string }>;
}

/**
 * Everything the worker will check, checked before the sender gets an answer: an alert the job
 * would refuse is reported now (by index) instead of answered 202 and dropped later. A body with
 * no usable alert at all is a 400; a generic body is one alert, so its problems are the body's.
 * Rules and queues are checked for firing alerts only: a resolved notice lifts the hold its firing
 * notice placed whatever was configured since (a rule removed or a queue renamed meanwhile must
 * not leave that hold pausing calls until somebody notices).
 */
export function admitAlerts(body: unknown, ingest: Pick<IngestPort, 'rules' | 'queues'>): Admitted {
  const config = { rules: new Set(ingest.rules.map((r) => r.name)), queues: new Set(ingest.queues) };
  const batch = parseAlertBatch(body);
  const rejected = [...batch.rejected];
  const events: AlertEvent[] = [];
  const unknownRules: Admitted['unknownRules'] = [];
  for (const { index, event } of batch.events) {
    const firing = event.status === 'firing';
    if (firing && event.source === 'generic' && event.rule !== undefined && !config.rules.has(event.rule)) {
      throw new UnknownRuleError(`body.rule: unknown rule ${event.rule}; configured: ${[...config.rules].join(', ')}`);
    }
    const problem = problemOf(event, firing ? config.queues : undefined);
    if (problem) {
      if (event.source === 'generic') throw new ValidationError(problem);
      rejected.push({ index, message: `alerts.${index}: ${problem}` });
      continue;
    }
    if (firing && event.rule !== undefined && !config.rules.has(event.rule) && !event.queues?.length) {
      unknownRules.push({ index, rule: event.rule });
    }
    events.push(event);
  }
  rejected.sort((a, b) => a.index - b.index);
  if (events.length === 0) {
    throw new ValidationError(
      `no usable alert in the payload: ${rejected
        .slice(0, 5)
        .map((r) => r.message)
        .join('; ')}`,
    );
  }
  return { events, rejected, unknownRules };
}

/** What makes the worker refuse the alert; `queues` (the configured ones) are checked when given. */
function problemOf(event: AlertEvent, queues: Set<string> | undefined): string | undefined {
  const unknown = queues ? (event.queues ?? []).filter((q) => !queues.has(q)) : [];
  if (queues && unknown.length) {
    return `alert ${event.name}: label callguard_queues names unknown dispatch queue(s) ${unknown.join(', ')}; configured: ${[...queues].join(', ')}`;
  }
  const checked = alertEventSchema.safeParse(event);
  if (!checked.success) return formatIssues(checked.error, { limit: 3 });
  return undefined;
}
