import { z } from 'zod';
import { alertEventSchema, MAX_ALERTS_PER_PAYLOAD } from '../domain/alerts.js';
import { signedFields } from './job-signer.js';

/**
 * Public contract of the `alert` job on the events queue: `{ alerts: AlertEvent[] }`, what
 * POST /health/alert enqueues after parsing a generic, Alertmanager or Grafana body. Other
 * BullMQ clients may add it directly (unsigned: it then acts as principal `bullmq`). POST
 * /health/alert adds `principal` and `signature` (see JobSigner). Documented in docs/; a versioned
 * contract (docs/contracts.md). Intake checks every event against alertEventSchema before answering.
 */
export const alertJobSchema = z.object({
  alerts: z.array(alertEventSchema).min(1).max(MAX_ALERTS_PER_PAYLOAD),
  /**
   * When the notice was enqueued by Redis' clock (ms); orders a resolved notice against a firing one.
   * Read only from signed jobs; an unsigned job counts from when the worker runs it (Redis' clock).
   */
  enqueued_at: z.number().int().positive().optional(),
  ...signedFields,
});

export type AlertJob = z.output<typeof alertJobSchema>;

// The hold id builder lives with the hold; re-exported for the HTTP intake that names it in its reply.
export { alertHoldId } from '../domain/hold.js';
