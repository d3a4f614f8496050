import { Router, type RequestHandler } from 'express';
import { ValidationError } from '../../domain/errors.js';
import type { Callguard } from '../../app/callguard.js';
import { jsonBody } from '../middleware/body.js';
import { holdView } from './present.js';
import { requireRole } from '../middleware/require-role.js';
import { pauseBody, resumeBody } from './schemas.js';
import { validate } from '../middleware/validate.js';

/** POST /health/pause and /health/resume (admin). The actor is always the authenticated principal. */
export function controlRoutes(cg: Callguard, authenticate: RequestHandler): Router {
  const router = Router();
  const admin = [authenticate, requireRole('admin'), ...jsonBody({ optional: true })];

  router.post('/health/pause', ...admin, async (req, res) => {
    const body = validate(pauseBody, req.body);
    const by = req.user!.name;
    let until: number | undefined;
    if (body.until !== undefined) {
      until = Date.parse(body.until);
      if (until <= (await cg.ledger.now())) throw new ValidationError('body.until: must be in the future');
    }
    const { hold, changes } = await cg.control.pause({ by, reason: body.reason, queues: body.queues, until });
    res.json({
      status: 'paused',
      paused_by: by,
      hold: holdView(hold),
      newly_paused: changes.flatMap((c) => c.paused),
    });
  });

  router.post('/health/resume', ...admin, async (req, res) => {
    const body = validate(resumeBody, req.body);
    const by = req.user!.name;
    const { released, changes } = await cg.control.resume({ by, queues: body.queues, reason: body.reason });
    res.json({
      status: 'resumed',
      resumed_by: by,
      released: released.map(holdView),
      newly_resumed: changes.flatMap((c) => c.resumed),
    });
  });
  return router;
}
