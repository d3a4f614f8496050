import { Router, type RequestHandler } from 'express';
import { readiness } from '../../ops/readiness.js';
import type { Callguard } from '../../app/callguard.js';
import { requireRole } from '../middleware/require-role.js';

/** Probes and metrics: what an orchestrator and Prometheus call. */
export function opsRoutes(cg: Callguard, authenticate: RequestHandler): Router {
  const router = Router();
  // Liveness says only that the process serves HTTP; nothing about Redis or internals.
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const { ready, checks } = await readiness(cg);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready', checks });
  });
  const guard: RequestHandler[] = cg.config.metricsPublic ? [] : [authenticate, requireRole('viewer')];
  router.get('/metrics', ...guard, async (_req, res) => {
    res.type(cg.metrics.registry.contentType).send(await cg.metrics.registry.metrics());
  });
  return router;
}
