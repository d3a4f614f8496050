import { z } from 'zod';
import { ALERT_BODY_LIMIT_BYTES, alertmanagerSchema, genericSchema, grafanaSchema } from '../../domain/alerts.js';
import { AuthError } from '../../domain/errors.js';
import { alertHoldId } from '../../jobs/alert-job.js';
import { admitAlerts } from './alert-intake.js';
import { route } from './route.js';
import { alertAcceptedViewSchema, errorViewSchema } from './views.js';

const payload = z.union([
  genericSchema.meta({ id: 'GenericAlert' }),
  alertmanagerSchema.meta({ id: 'AlertmanagerWebhook' }),
  grafanaSchema.meta({ id: 'GrafanaWebhook' }),
]);

/**
 * POST /health/alert: generic, Alertmanager or Grafana bodies become one `alert` job, signed with
 * the sending principal; the health worker places or releases the holds. Everything the worker
 * will check is checked here (alert-intake.ts): each alert of a group stands alone, and one that
 * could not be used is named in `rejected` instead of answered 202 and dropped later.
 */
export const alertRoutes = [
  route({
    method: 'post',
    path: '/health/alert',
    operationId: 'postAlert',
    tag: 'ingest',
    summary: 'Alert webhook: generic, Alertmanager or Grafana',
    description:
      'Firing adds a hold, resolved releases exactly that hold (only for the principal that placed it, or an admin). Each alert of a group ' +
      'stands alone: the usable ones take effect, the others are listed in `rejected`. Over-long text is truncated, over-long fingerprints ' +
      'hashed. A signature is used only when no Authorization header is sent, and each signed request is accepted once.',
    access: 'webhook',
    // Parsed in the handler: a group is checked alert by alert against the configured rules and queues.
    body: { accept: ['json'], schema: payload, parse: (body) => body, maxBytes: ALERT_BODY_LIMIT_BYTES },
    responses: {
      202: { description: 'Accepted: one job on the events queue.', schema: alertAcceptedViewSchema },
      409: { description: 'replayed: this signed request was already accepted.', schema: errorViewSchema },
    },
  }).handle(async ({ deps, body, user, req }) => {
    if (!user) throw new AuthError();
    const log = deps.logger.child({ component: 'alert-intake' });
    const { events, rejected, unknownRules } = admitAlerts(body, deps.ingest);
    if (rejected.length) log.warn({ by: user.name, rejected }, 'alerts left out of a webhook group');
    for (const u of unknownRules)
      log.warn({ by: user.name, ...u }, 'alert names an unknown callguard_rule; its hold will pause every queue');
    const jobId = await deps.ingest.enqueueAlert(events, user).catch(async (err: unknown) => {
      // Not carried out: let the sender's retry of the same signed request through.
      if (req.signed) await deps.replay.forget(req.signed.kind, req.signed.signature).catch(() => undefined);
      throw err;
    });
    return {
      status: 202,
      json: {
        job_id: jobId,
        alerts: events.map((e) => ({ hold: alertHoldId(e), status: e.status, name: e.name })),
        rejected: rejected.map((r) => ({ index: r.index, error: r.message })),
      },
    };
  }),
];
