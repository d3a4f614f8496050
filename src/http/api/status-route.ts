import { Router, type RequestHandler } from 'express';
import type { Callguard } from '../../app/callguard.js';
import { auditView } from './present.js';
import { requireRole } from '../middleware/require-role.js';
import { auditQuery } from './schemas.js';
import { serviceStatus } from './status.js';
import { validate } from '../middleware/validate.js';

/** Read-only routes (viewer and admin). */
export function statusRoutes(cg: Callguard, authenticate: RequestHandler): Router {
  const router = Router();
  router.get('/health/service', authenticate, requireRole('viewer'), async (_req, res) => {
    res.json(await serviceStatus(cg));
  });
  router.get('/health/audit', authenticate, requireRole('viewer'), async (req, res) => {
    const { limit } = validate(auditQuery, req.query, 'query');
    const entries = await cg.ledger.audit(limit);
    res.json({ entries: entries.map(auditView) });
  });
  return router;
}
