import { z } from 'zod';
import { MAX_ALERTS_PER_PAYLOAD, type AlertEvent } from '../domain/alerts.js';

/**
 * Public contract of the `alert` job on the events queue: `{ alerts: AlertEvent[] }`, what
 * POST /health/alert enqueues after parsing a generic, Alertmanager or Grafana body. Other
 * BullMQ clients may add it directly. Documented in README.md; change only with a version note.
 */
export const alertEventSchema = z.object({
  source: z.enum(['generic', 'alertmanager', 'grafana']),
  id: z.string().min(1).max(200),
  status: z.enum(['firing', 'resolved']),
  name: z.string().max(1000),
  reason: z.string().max(2000),
  rule: z.string().min(1).max(200).optional(),
  queues: z.array(z.string().min(1)).min(1).optional(),
  labels: z.record(z.string(), z.string()).default({}),
});

export const alertJobSchema = z.object({
  alerts: z.array(alertEventSchema).min(1).max(MAX_ALERTS_PER_PAYLOAD),
});

export type AlertJob = { alerts: AlertEvent[] };

// The hold id builder lives with the hold; re-exported for the HTTP intake that names it in its reply.
export { alertHoldId } from '../domain/hold.js';
