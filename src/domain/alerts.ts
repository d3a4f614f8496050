/** Alert webhook bodies (generic, Alertmanager, Grafana) → one AlertEvent per alert. Pure. */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import { formatIssues } from './zod-issues.js';

export const MAX_ALERTS_PER_PAYLOAD = 500;
/**
 * The webhook's body limit: a group of MAX_ALERTS_PER_PAYLOAD alerts at about 2 KiB each (an
 * Alertmanager alert with its labels, annotations and generator URL is typically 0.5–1 KiB).
 * Alertmanager neither splits nor compresses a group, so a smaller limit would refuse the large
 * groups an outage sends.
 */
export const ALERT_BODY_LIMIT_BYTES = 1024 * 1024;
/** Limits the `alert` job contract holds an event to; intake truncates or hashes to fit instead of refusing. */
export const MAX_ALERT_ID = 200;
export const MAX_ALERT_NAME = 1000;
export const MAX_ALERT_REASON = 2000;
export const TRUNCATED_MARKER = '… [truncated]';

const ALERT_SOURCES = ['generic', 'alertmanager', 'grafana'] as const;
export type AlertSource = (typeof ALERT_SOURCES)[number];

/**
 * One alert, whatever body it came in: the `alert` job's events (a public contract, see
 * src/jobs/alert-job.ts) and what intake checks every parsed event against before answering.
 */
export const alertEventSchema = z.object({
  source: z.enum(ALERT_SOURCES),
  /** Stable across firing and resolved notices: the resolved one lifts the hold the firing one placed. */
  id: z.string().min(1).max(MAX_ALERT_ID),
  status: z.enum(['firing', 'resolved']),
  name: z.string().max(MAX_ALERT_NAME),
  reason: z.string().max(MAX_ALERT_REASON),
  rule: z.string().min(1).max(MAX_ALERT_ID).optional(),
  queues: z.array(z.string().min(1)).min(1).optional(),
  labels: z.record(z.string(), z.string()).default({}),
});
export type AlertEvent = z.output<typeof alertEventSchema>;

/** One alert of a group that could not be used, by its 0-based index in `alerts`. */
export interface RejectedAlert {
  index: number;
  message: string;
}

const status = z.enum(['firing', 'resolved']);
const stringMap = z.record(z.string(), z.string());
// Generic ids and rule names become part of hold ids and Redis keys, so keep them short.
const shortName = z.string().trim().min(1).max(200);

export const genericSchema = z.strictObject({
  rule: shortName.optional(),
  reason: z.string().trim().optional(),
  status: status.default('firing'),
  id: shortName.optional().meta({ description: 'Hold alert:generic:<id or rule>; the resolved notice must carry the same.' }),
});

// Loose objects: Alertmanager and Grafana add fields over time; only the ones we read are checked.
const alertSchema = z
  .looseObject({
    status,
    labels: stringMap.meta({
      description: 'callguard_queues (comma list) or callguard_rule / rule choose the scope; otherwise every dispatch queue.',
    }),
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

// Parsing checks the group as a whole and each alert on its own: one bad alert must not sink the others.
const anyAlerts = { alerts: z.array(z.unknown()).min(1).max(MAX_ALERTS_PER_PAYLOAD) };
const alertmanagerGroup = alertmanagerSchema.extend(anyAlerts);
const grafanaGroup = grafanaSchema.extend(anyAlerts);

type ParsedAlert = z.output<typeof alertSchema>;

/**
 * Parses a body into its alerts. The body's own shape (which form, the `alerts` list) must be
 * right or a ValidationError names the field; within a group each alert stands alone: the usable
 * ones come back in `events` with their index, the others in `rejected`.
 */
export function parseAlertBatch(body: unknown): { events: Array<{ index: number; event: AlertEvent }>; rejected: RejectedAlert[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('invalid alert payload: body: expected a JSON object');
  }
  let source: AlertSource;
  let alerts: unknown[];
  if ('orgId' in body || 'state' in body || 'title' in body) {
    source = 'grafana';
    alerts = parse(source, grafanaGroup, body).alerts;
  } else if ('alerts' in body || 'version' in body || 'groupKey' in body) {
    source = 'alertmanager';
    alerts = parse(source, alertmanagerGroup, body).alerts;
  } else {
    return { events: [{ index: 0, event: fromGeneric(parse('generic', genericSchema, body)) }], rejected: [] };
  }
  const events: Array<{ index: number; event: AlertEvent }> = [];
  const rejected: RejectedAlert[] = [];
  alerts.forEach((raw, index) => {
    const result = alertSchema.safeParse(raw);
    if (result.success) events.push({ index, event: fromAlert(source, result.data) });
    else rejected.push({ index, message: formatIssues(result.error, { root: `alerts.${index}`, limit: 5 }) });
  });
  return { events, rejected };
}

/** Every alert of the body, or a ValidationError naming the first problems (pure callers and tests). */
export function parseAlertPayload(body: unknown): AlertEvent[] {
  const { events, rejected } = parseAlertBatch(body);
  if (rejected.length) {
    const source =
      typeof body === 'object' && body !== null && ('orgId' in body || 'state' in body || 'title' in body) ? 'grafana' : 'alertmanager';
    throw new ValidationError(
      `invalid ${source} alert payload: ${rejected
        .slice(0, 5)
        .map((r) => r.message)
        .join('; ')}`,
    );
  }
  return events.map((e) => e.event);
}

function parse<T extends z.ZodType>(source: AlertSource, schema: T, body: unknown): z.output<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  throw new ValidationError(`invalid ${source} alert payload: ${formatIssues(result.error, { whole: 'body', limit: 5 })}`);
}

/** Free text past `max` characters keeps its start and says it was cut: an oversized summary still pauses. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return text.slice(0, max - TRUNCATED_MARKER.length) + TRUNCATED_MARKER;
}

function fromGeneric(input: z.output<typeof genericSchema>): AlertEvent {
  const id = input.id ?? input.rule ?? 'default';
  const name = input.rule ?? id;
  const event: AlertEvent = {
    source: 'generic',
    id,
    status: input.status,
    name,
    reason: truncate(input.reason || name, MAX_ALERT_REASON),
    labels: {},
  };
  if (input.rule !== undefined) event.rule = input.rule;
  return event;
}

function fromAlert(source: AlertSource, alert: ParsedAlert): AlertEvent {
  const { labels, annotations } = alert;
  const id = alert.fingerprint ? fitId(alert.fingerprint) : labelsHash(labels);
  const name = truncate(labels.alertname || id, MAX_ALERT_NAME);
  const event: AlertEvent = {
    source,
    id,
    status: alert.status,
    name,
    reason: truncate(annotations.summary || annotations.description || name, MAX_ALERT_REASON),
    labels,
  };
  // Too long to be a configured rule; kept (cut) so the hold names it as unknown and pauses everything.
  const rule = labels.callguard_rule?.trim() || labels.rule?.trim();
  if (rule) event.rule = truncate(rule, MAX_ALERT_ID);
  const queues = splitList(labels.callguard_queues);
  if (queues.length > 0) event.queues = queues;
  return event;
}

function splitList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [
    ...new Set(
      value
        .split(',')
        .map((q) => q.trim())
        .filter((q) => q.length > 0),
    ),
  ];
}

// An id becomes part of a hold id and Redis keys: one too long is replaced by a stable digest,
// so its resolved notice still finds the hold its firing notice placed.
function fitId(fingerprint: string): string {
  if (fingerprint.length <= MAX_ALERT_ID) return fingerprint;
  return `sha256-${createHash('sha256').update(fingerprint).digest('hex').slice(0, 32)}`;
}

// Senders that omit the fingerprint still need the same id on firing and resolved: hash the label set.
function labelsHash(labels: Record<string, string>): string {
  const canonical = JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
  return createHash('sha256').update(canonical).digest('hex').slice(0, 16);
}
