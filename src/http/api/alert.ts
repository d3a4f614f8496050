import { Router, type RequestHandler } from 'express';
import { AuthError } from '../../domain/errors.js';
import { alertHoldId, type AlertJob } from '../../jobs/alert-job.js';
import { JOB } from '../../jobs/contract.js';
import type { Callguard } from '../../app/callguard.js';
import { parseBody } from '../middleware/body.js';
import { webhookAuth } from '../middleware/webhook-auth.js';
import { admitAlerts } from './alert-intake.js';

/**
 * POST /health/alert: generic, Alertmanager or Grafana bodies become one `alert` job; the health
 * worker places or releases the holds. Everything checkable is checked here, so a bad body gets
 * a 400 while the sender is still listening instead of a failed job nobody sees.
 */
export function alertRoutes(cg: Callguard, authenticate: RequestHandler): Router {
  const router = Router();
  const rules = new Set(cg.rules.map((r) => r.name));
  const queues = new Set(cg.config.queues);

  const log = cg.logger.child({ component: 'alert-intake' });
  const auth = webhookAuth(authenticate, cg.config.webhookSecret, { replay: cg.replay, grafanaUntimed: cg.config.grafanaUntimedSignatures });

  router.post('/health/alert', auth, parseBody({ accept: ['json'] }), async (req, res) => {
    if (!req.user) throw new AuthError();
    const { events, rejected, unknownRules } = admitAlerts(req.body, { rules, queues });
    if (rejected.length) log.warn({ by: req.user.name, rejected }, 'alerts left out of a webhook group');
    for (const u of unknownRules) log.warn({ by: req.user.name, ...u }, 'alert names an unknown callguard_rule; its hold will pause every queue');
    const data: AlertJob = cg.signer.sign({ alerts: events }, req.user);
    const job = await cg.events.add(JOB.alert, data).catch(async (err: unknown) => {
      if (req.signed) await cg.replay.forget(req.signed.kind, req.signed.signature).catch(() => undefined);
      throw err;
    });
    res.status(202).json({
      job_id: job.id ?? null,
      alerts: events.map((e) => ({ hold: alertHoldId(e), status: e.status, name: e.name })),
      rejected: rejected.map((r) => ({ index: r.index, error: r.message })),
    });
  });
  return router;
}
