import { Router, type RequestHandler } from 'express';
import { BODY_LIMIT_BYTES, parseBody, readBodyUpTo } from '../middleware/body.js';
import { requireRole } from '../middleware/require-role.js';
import { sameOrigin } from '../middleware/same-origin.js';
import { validate } from '../middleware/validate.js';
import { webhookAuth, type WebhookAuthOptions } from '../middleware/webhook-auth.js';
import type { ApiRoute, RouteDeps } from './route.js';

/** The webhook secret (signatures refused without one) and the replay guard. */
export type WebhookOptions = WebhookAuthOptions & { secret: string | undefined };

export interface MountOptions {
  /** Bearer authentication (sets req.user or answers 401). */
  authenticate: RequestHandler;
  /** Loads the browser session's principal into req.user, when there is one. */
  session: RequestHandler[];
  webhook: WebhookOptions;
  /** Slack's signature over the raw body, each request once (leaves the raw body in req.body). */
  slack: RequestHandler[];
}

/** Access check, then the body read and parsed, as each route declares. */
function guard(r: ApiRoute, opts: MountOptions): RequestHandler[] {
  const access = r.access;
  // webhookAuth reads the body itself: a signature covers the exact bytes.
  if (access === 'webhook')
    return [
      webhookAuth(opts.authenticate, opts.webhook.secret, { ...opts.webhook, maxBytes: r.body?.maxBytes }),
      ...(r.body ? [parseBody({ accept: r.body.accept, optional: r.body.optional })] : []),
    ];
  if (access === 'slack') return opts.slack;
  const body = r.body
    ? [...readBodyUpTo(r.body.maxBytes ?? BODY_LIMIT_BYTES), parseBody({ accept: r.body.accept, optional: r.body.optional })]
    : [];
  if (typeof access !== 'object') return [...body];
  if ('roles' in access) return [opts.authenticate, requireRole(...access.roles), ...body];
  // A browser sends the session cookie with requests other sites make it send: writes must come from this site.
  const signIn = access.signIn;
  const anonymous: RequestHandler[] = signIn ? [(req, res, next) => (req.user ? next() : res.redirect(302, signIn))] : [];
  return [...opts.session, ...anonymous, requireRole(...access.session), sameOrigin(), ...body];
}

/** `:name` or a wildcard: the path matches more than its own spelling. */
const patterned = (path: string) => /[:*]/.test(path);
const segments = (path: string) => path.split('/').length;

/**
 * Runs a fixed route's handlers in order, as Express' Route would: an error passed to next, thrown
 * or rejected goes to `done` (the JSON error handler); `next('route')` leaves the route and
 * `next('router')` the router; a falsy argument goes on to the next handler.
 */
function chainOf(handlers: RequestHandler[]): RequestHandler {
  return (req, res, done) => {
    let i = 0;
    const next = (err?: unknown): void => {
      if (err === 'route') return done();
      if (err) return done(err);
      const handler = handlers[i++];
      if (!handler) return done();
      try {
        const ret = handler(req, res, next);
        if (ret instanceof Promise) ret.catch((e: unknown) => next(e || new Error('Rejected promise')));
      } catch (e) {
        next(e);
      }
    };
    next();
  };
}

/**
 * Serves the registry's routes; errors thrown by parsing or handlers reach the JSON error handler.
 * A request whose method and path spell a fixed route exactly goes straight to that route's
 * handlers, not past every route declared before it and through a router of its own (the router
 * walks each route in turn and allocates at each level, which showed in the profiles of POST
 * /health/errors in a storm, bench P7, and of /providers/choose, P12p). A route gets that shortcut
 * only when no earlier route with parameters could also match it; any other spelling (HEAD, a
 * trailing slash, other case) is served by the full router as before. Mount both, in order.
 */
export function mountRoutes(routes: ApiRoute[], deps: RouteDeps, opts: MountOptions): [exact: RequestHandler, all: Router] {
  const all = Router();
  const exact = new Map<string, RequestHandler>();
  routes.forEach((r, i) => {
    const chain = [
      ...guard(r, opts),
      (async (req, res) => {
        const reply = await r.handle({
          body: r.body ? r.body.parse(req.body, req) : undefined,
          query: r.query ? validate(r.query, req.query, 'query') : undefined,
          ...(req.user ? { user: req.user } : {}),
          req,
          deps,
        });
        if ('empty' in reply) {
          res.status(reply.status).end();
          return;
        }
        if (reply.headers) res.set(reply.headers);
        if ('json' in reply) res.status(reply.status).json(reply.json);
        else res.status(reply.status).type(reply.media).send(reply.text);
      }) as RequestHandler,
    ];
    all[r.method](r.path, ...chain);
    const shadowed = routes.slice(0, i).some((e) => e.method === r.method && patterned(e.path) && segments(e.path) === segments(r.path));
    if (patterned(r.path) || shadowed) return;
    exact.set(`${r.method.toUpperCase()} ${r.path}`, chainOf(chain));
  });
  const serveExact: RequestHandler = (req, res, next) => {
    const one = exact.get(`${req.method} ${req.path}`);
    if (one) one(req, res, next);
    else next();
  };
  return [serveExact, all];
}
