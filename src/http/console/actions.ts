import { Router } from 'express';
import type { HoldsPort } from '../api/ports.js';
import { holdView } from '../api/present.js';
import { pauseBody } from '../api/schemas.js';
import { jsonBody } from '../middleware/body.js';
import { requireRole } from '../middleware/require-role.js';
import { sameOrigin } from '../middleware/same-origin.js';
import { validate } from '../middleware/validate.js';
import { consoleResumeBody } from './schemas.js';

/**
 * POST /admin/api/pause and /admin/api/resume: the session's admin, the board's same-origin check,
 * then the same Control calls, bodies and answers as POST /health/pause and /health/resume.
 */
export function consoleActions(holds: HoldsPort): Router {
  const router = Router();
  const admin = [requireRole('admin'), sameOrigin(), ...jsonBody({ optional: true })];

  router.post('/api/pause', ...admin, async (req, res) => {
    const body = validate(pauseBody, req.body);
    const by = req.user!.name;
    const until = body.until === undefined ? undefined : Date.parse(body.until);
    const { hold, paused } = await holds.pause({ by, reason: body.reason, queues: body.queues, providers: body.providers, until });
    res.json({ status: 'paused', paused_by: by, hold: holdView(hold), newly_paused: paused });
  });

  router.post('/api/resume', ...admin, async (req, res) => {
    const body = validate(consoleResumeBody, req.body);
    const by = req.user!.name;
    const reason = body.reason || 'resumed from the console';
    const result = body.holds
      ? await holds.release({ by, ids: body.holds, reason })
      : await holds.resume({ by, queues: body.queues, reason });
    res.json({ status: 'resumed', resumed_by: by, released: result.released.map(holdView), newly_resumed: result.resumed });
  });
  return router;
}
