import { Router, type RequestHandler } from 'express';
import { parseBody, readBody } from '../middleware/body.js';
import { requireRole } from '../middleware/require-role.js';
import { validate } from '../middleware/validate.js';
import { webhookAuth, type WebhookAuthOptions } from '../middleware/webhook-auth.js';
import type { ApiRoute, RouteDeps } from './route.js';

/** The webhook secret (signatures refused without one) and the replay guard. */
export type WebhookOptions = WebhookAuthOptions & { secret: string | undefined };

/** Access check, then the body read and parsed, as each route declares. */
function guard(r: ApiRoute, authenticate: RequestHandler, webhook: WebhookOptions): RequestHandler[] {
  const access = r.access;
  // webhookAuth reads the body itself: a signature covers the exact bytes.
  if (access === 'webhook')
    return [
      webhookAuth(authenticate, webhook.secret, webhook),
      ...(r.body ? [parseBody({ accept: r.body.accept, optional: r.body.optional })] : []),
    ];
  const chain: RequestHandler[] = typeof access === 'object' ? [authenticate, requireRole(...access.roles)] : [];
  if (r.body) chain.push(...readBody, parseBody({ accept: r.body.accept, optional: r.body.optional }));
  return chain;
}

/** Serves the registry's routes; errors thrown by parsing or handlers reach the JSON error handler. */
export function mountRoutes(routes: ApiRoute[], deps: RouteDeps, opts: { authenticate: RequestHandler; webhook: WebhookOptions }): Router {
  const router = Router();
  for (const r of routes) {
    router[r.method](r.path, ...guard(r, opts.authenticate, opts.webhook), async (req, res) => {
      const reply = await r.handle({
        body: r.body ? r.body.parse(req.body, req) : undefined,
        query: r.query ? validate(r.query, req.query, 'query') : undefined,
        ...(req.user ? { user: req.user } : {}),
        req,
        deps,
      });
      if (reply.headers) res.set(reply.headers);
      if ('json' in reply) res.status(reply.status).json(reply.json);
      else res.status(reply.status).type(reply.media).send(reply.text);
    });
  }
  return router;
}
