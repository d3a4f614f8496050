import { z } from 'zod';
import { alertmanagerSchema, genericSchema, grafanaSchema, parseAlertPayload, type AlertEvent } from '../../domain/alerts.js';
import { UnknownRuleError, ValidationError } from '../../domain/errors.js';
import { alertHoldId } from '../../jobs/alert-job.js';
import type { IngestPort } from './ports.js';
import { route } from './route.js';
import { alertAcceptedViewSchema } from './views.js';

const payload = z.union([
  genericSchema.meta({ id: 'GenericAlert' }),
  alertmanagerSchema.meta({ id: 'AlertmanagerWebhook' }),
  grafanaSchema.meta({ id: 'GrafanaWebhook' }),
]);

/** Names only configured rules and dispatch queues: a typo is a 400 now, not a failed job later. */
function check(events: AlertEvent[], ingest: IngestPort): void {
  const rules = ingest.rules.map((r) => r.name);
  for (const e of events) {
    if (e.source === 'generic' && e.rule !== undefined && !rules.includes(e.rule)) {
      throw new UnknownRuleError(`body.rule: unknown rule ${e.rule}; configured: ${rules.join(', ')}`);
    }
    const unknown = (e.queues ?? []).filter((q) => !ingest.queues.includes(q));
    if (unknown.length) {
      throw new ValidationError(`alert ${e.name}: label callguard_queues names unknown dispatch queue(s) ${unknown.join(', ')}; configured: ${ingest.queues.join(', ')}`);
    }
  }
}

/**
 * POST /health/alert: generic, Alertmanager or Grafana bodies become one `alert` job; the health
 * worker places or releases the holds. Everything checkable is checked here, so a bad body gets
 * a 400 while the sender is still listening instead of a failed job nobody sees.
 */
export const alertRoutes = [
  route({
    method: 'post',
    path: '/health/alert',
    operationId: 'postAlert',
    tag: 'ingest',
    summary: 'Alert webhook: generic, Alertmanager or Grafana',
    description: 'Firing adds a hold, resolved releases exactly that hold. A signature is used only when no Authorization header is sent.',
    access: 'webhook',
    body: { accept: ['json'], schema: payload, parse: parseAlertPayload },
    responses: { 202: { description: 'Accepted: one job on the events queue.', schema: alertAcceptedViewSchema } },
  }).handle(async ({ deps, body: events }) => {
      check(events, deps.ingest);
      const jobId = await deps.ingest.enqueueAlert(events);
      return { status: 202, json: { job_id: jobId, alerts: events.map((e) => ({ hold: alertHoldId(e), status: e.status, name: e.name })) } };
    }),
];
