import { Router, type RequestHandler } from 'express';
import { UnknownRuleError, ValidationError } from '../../domain/errors.js';
import { alertHoldId, type AlertJob } from '../../jobs/alert-job.js';
import { parseAlertPayload, type AlertEvent } from '../../domain/alerts.js';
import { JOB } from '../../jobs/contract.js';
import type { Callguard } from '../../app/callguard.js';
import { parseBody } from '../middleware/body.js';
import { webhookAuth } from '../middleware/webhook-auth.js';

/**
 * POST /health/alert: generic, Alertmanager or Grafana bodies become one `alert` job; the health
 * worker places or releases the holds. Everything checkable is checked here, so a bad body gets
 * a 400 while the sender is still listening instead of a failed job nobody sees.
 */
export function alertRoutes(cg: Callguard, authenticate: RequestHandler): Router {
  const router = Router();
  const rules = new Set(cg.rules.map((r) => r.name));
  const queues = new Set(cg.config.queues);

  const check = (events: AlertEvent[]) => {
    for (const e of events) {
      if (e.source === 'generic' && e.rule !== undefined && !rules.has(e.rule)) {
        throw new UnknownRuleError(`body.rule: unknown rule ${e.rule}; configured: ${[...rules].join(', ')}`);
      }
      const unknown = (e.queues ?? []).filter((q) => !queues.has(q));
      if (unknown.length) {
        throw new ValidationError(`alert ${e.name}: label callguard_queues names unknown dispatch queue(s) ${unknown.join(', ')}; configured: ${[...queues].join(', ')}`);
      }
    }
  };

  router.post('/health/alert', webhookAuth(authenticate, cg.config.webhookSecret), parseBody({ accept: ['json'] }), async (req, res) => {
    const events = parseAlertPayload(req.body);
    check(events);
    const data: AlertJob = { alerts: events };
    const job = await cg.events.add(JOB.alert, data);
    res.status(202).json({
      job_id: job.id ?? null,
      alerts: events.map((e) => ({ hold: alertHoldId(e), status: e.status, name: e.name })),
    });
  });
  return router;
}
