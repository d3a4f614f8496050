import { z } from 'zod';
import { MAX_ALERT_ID, MAX_ALERT_NAME, MAX_ALERT_REASON, MAX_ALERTS_PER_PAYLOAD, type AlertEvent } from '../domain/alerts.js';
import { signedFields, type JobPrincipal } from './job-signer.js';

/**
 * Public contract of the `alert` job on the events queue: `{ alerts: AlertEvent[] }`, what
 * POST /health/alert enqueues after parsing a generic, Alertmanager or Grafana body. Other
 * BullMQ clients may add it directly (unsigned: it then acts as principal `bullmq`). POST
 * /health/alert adds `principal` and `signature` (see JobSigner). Documented in docs/; a versioned
 * contract (docs/contracts.md). Intake checks every event against this schema before answering.
 */
export const alertEventSchema = z.object({
  source: z.enum(['generic', 'alertmanager', 'grafana']),
  id: z.string().min(1).max(MAX_ALERT_ID),
  status: z.enum(['firing', 'resolved']),
  name: z.string().max(MAX_ALERT_NAME),
  reason: z.string().max(MAX_ALERT_REASON),
  rule: z.string().min(1).max(MAX_ALERT_ID).optional(),
  queues: z.array(z.string().min(1)).min(1).optional(),
  labels: z.record(z.string(), z.string()).default({}),
});

export const alertJobSchema = z.object({
  alerts: z.array(alertEventSchema).min(1).max(MAX_ALERTS_PER_PAYLOAD),
  /**
   * When the notice was enqueued by Redis' clock (ms); orders a resolved notice against a firing one.
   * Read only from signed jobs; an unsigned job counts from when the worker runs it (Redis' clock).
   */
  enqueued_at: z.number().int().positive().optional(),
  ...signedFields,
});

export type AlertJob = {
  alerts: AlertEvent[];
  enqueued_at?: number;
  principal?: JobPrincipal;
  job_id?: string;
  expires_at?: number;
  signature?: string;
};

// The hold id builder lives with the hold; re-exported for the HTTP intake that names it in its reply.
export { alertHoldId } from '../domain/hold.js';
