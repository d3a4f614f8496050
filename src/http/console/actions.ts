import { Router } from 'express';
import type { Callguard } from '../../app/callguard.js';
import { NotFoundError, ValidationError } from '../../domain/errors.js';
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
export function consoleActions(cg: Callguard): Router {
  const router = Router();
  const admin = [requireRole('admin'), sameOrigin(), ...jsonBody({ optional: true })];

  router.post('/api/pause', ...admin, async (req, res) => {
    const body = validate(pauseBody, req.body);
    const by = req.user!.name;
    const until = body.until === undefined ? undefined : Date.parse(body.until);
    if (until !== undefined && until <= (await cg.ledger.now())) throw new ValidationError('body.until: must be in the future');
    const { hold, changes } = await cg.control.pause({ by, reason: body.reason, queues: body.queues, until });
    res.json({ status: 'paused', paused_by: by, hold: holdView(hold), newly_paused: changes.flatMap((c) => c.paused) });
  });

  router.post('/api/resume', ...admin, async (req, res) => {
    const body = validate(consoleResumeBody, req.body);
    const by = req.user!.name;
    const reason = body.reason || 'resumed from the console';
    const result = body.holds ? await releaseHeld(cg, body.holds, by, reason) : await cg.control.resume({ by, queues: body.queues, reason });
    res.json({ status: 'resumed', resumed_by: by, released: result.released.map(holdView), newly_resumed: result.changes.flatMap((c) => c.resumed) });
  });
  return router;
}

/** Releases exactly these holds; if one is gone (another operator was quicker), releases none and says which. */
async function releaseHeld(cg: Callguard, ids: string[], by: string, reason: string) {
  const held = new Set((await cg.ledger.list()).map((h) => h.id));
  const gone = ids.filter((id) => !held.has(id));
  if (gone.length) throw new NotFoundError(`holds: ${gone.join(', ')} not held (already released?); nothing was released`);
  return cg.control.releaseIds(ids, by, reason);
}
