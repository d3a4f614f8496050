/** Alert webhook bodies (generic, Alertmanager, Grafana) → one AlertEvent per alert. Pure. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import { formatIssues } from './zod-issues.js';

export type AlertSource = 'generic' | 'alertmanager' | 'grafana';

export interface AlertEvent {
  source: AlertSource;
  /** Stable across firing and resolved notices: the resolved one lifts the hold the firing one placed. */
  id: string;
  status: 'firing' | 'resolved';
  name: string;
  reason: string;
  rule?: string;
  queues?: string[];
  labels: Record<string, string>;
}

export const MAX_ALERTS_PER_PAYLOAD = 500;

const status = z.enum(['firing', 'resolved']);
const stringMap = z.record(z.string(), z.string());
// Generic ids and rule names become part of hold ids and Redis keys, so keep them short.
const shortName = z.string().trim().min(1).max(200);

export const genericSchema = z.strictObject({
  rule: shortName.optional(),
  reason: z.string().trim().max(1000).optional(),
  status: status.default('firing'),
  id: shortName.optional().meta({ description: 'Hold alert:generic:<id or rule>; the resolved notice must carry the same.' }),
});

// Loose objects: Alertmanager and Grafana add fields over time; only the ones we read are checked.
const alertSchema = z
  .looseObject({
    status,
    labels: stringMap.meta({ description: 'callguard_queues (comma list) or callguard_rule / rule choose the scope; otherwise every dispatch queue.' }),
    annotations: stringMap.default({}),
    fingerprint: z.string().optional(),
  })
  .meta({ id: 'Alert', description: 'One alert of an Alertmanager or Grafana webhook; other fields are accepted and ignored.' });
const alertList = z.array(alertSchema).min(1).max(MAX_ALERTS_PER_PAYLOAD);

export const alertmanagerSchema = z.looseObject({ version: z.literal('4'), alerts: alertList });

export const grafanaSchema = z.looseObject({
  orgId: z.number().optional(),
  state: z.string().optional(),
  title: z.string().optional(),
  alerts: alertList,
});

type ParsedAlert = z.output<typeof alertSchema>;

/** Throws ValidationError naming the offending field when the body is none of the three forms. */
export function parseAlertPayload(body: unknown): AlertEvent[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('invalid alert payload: body: expected a JSON object');
  }
  if ('orgId' in body || 'state' in body || 'title' in body) {
    return parse('grafana', grafanaSchema, body).alerts.map((a) => fromAlert('grafana', a));
  }
  if ('alerts' in body || 'version' in body || 'groupKey' in body) {
    return parse('alertmanager', alertmanagerSchema, body).alerts.map((a) => fromAlert('alertmanager', a));
  }
  return [fromGeneric(parse('generic', genericSchema, body))];
}

function parse<T extends z.ZodType>(source: AlertSource, schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new ValidationError(`invalid ${source} alert payload: ${formatIssues(result.error, { whole: 'body', limit: 5 })}`);
}

function fromGeneric(input: z.output<typeof genericSchema>): AlertEvent {
  const id = input.id ?? input.rule ?? 'default';
  const name = input.rule ?? id;
  const event: AlertEvent = { source: 'generic', id, status: input.status, name, reason: input.reason || name, labels: {} };
  if (input.rule !== undefined) event.rule = input.rule;
  return event;
}

function fromAlert(source: AlertSource, alert: ParsedAlert): AlertEvent {
  const { labels, annotations } = alert;
  const id = alert.fingerprint || labelsHash(labels);
  const name = labels.alertname || id;
  const event: AlertEvent = {
    source,
    id,
    status: alert.status,
    name,
    reason: annotations.summary || annotations.description || name,
    labels,
  };
  const rule = labels.callguard_rule?.trim() || labels.rule?.trim();
  if (rule) event.rule = rule;
  const queues = splitList(labels.callguard_queues);
  if (queues.length > 0) event.queues = queues;
  return event;
}

function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((q) => q.trim()).filter((q) => q.length > 0))];
}

// Senders that omit the fingerprint still need the same id on firing and resolved: hash the label set.
function labelsHash(labels: Record<string, string>): string {
  const canonical = JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
