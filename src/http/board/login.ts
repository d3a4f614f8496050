import express, { Router } from 'express';
import { ipKeyGenerator, rateLimit, type Store } from 'express-rate-limit';
import type { Authenticator } from '../auth/passport.js';
import { BODY_LIMIT_BYTES } from '../middleware/body.js';
import { loginPage, logoutPage } from './login-page.js';
import { sameOrigin } from '../middleware/same-origin.js';

export const BOARD_PATH = '/admin/queues';
const WINDOW_MS = 15 * 60_000;

const nameOf = (body: unknown): string => {
  const name = (body as { name?: unknown } | undefined)?.name;
  return typeof name === 'string' ? name.slice(0, 64) : '';
};

/**
 * GET/POST /admin/login and /admin/logout (mounted under /admin, after the session middleware).
 * Failed logins are limited per client IP + name, and more loosely per IP alone, so guessing
 * one principal's secret and spraying many names are both slowed down. The app passes a Redis
 * store, so the counts are shared by instances and kept across restarts.
 */
export function loginRoutes(auth: Authenticator, opts: { attempts: number; store?: (limiter: string) => Store }): Router {
  const router = Router();
  const tooMany = (_req: express.Request, res: express.Response) => {
    res
      .status(429)
      .type('html')
      .send(loginPage({ error: 'Too many failed sign-ins. Try again in 15 minutes.' }));
  };
  const common = {
    windowMs: WINDOW_MS,
    skipSuccessfulRequests: true,
    standardHeaders: 'draft-8' as const,
    legacyHeaders: false,
    handler: tooMany,
  };
  const perName = rateLimit({
    ...common,
    limit: opts.attempts,
    keyGenerator: (req) => `${ipKeyGenerator(req.ip ?? '')}|${nameOf(req.body).toLowerCase()}`,
    ...(opts.store ? { store: opts.store('login-name') } : {}),
  });
  const perIp = rateLimit({
    ...common,
    limit: opts.attempts * 5,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
    ...(opts.store ? { store: opts.store('login-ip') } : {}),
  });
  const form = express.urlencoded({ extended: false, limit: BODY_LIMIT_BYTES, parameterLimit: 10 });

  router.get('/login', (req, res) => {
    // The alerts role cannot use the board, so sending it there would only end in a 403.
    if (req.user && req.user.role !== 'alerts') return res.redirect(303, `${BOARD_PATH}/`);
    res.type('html').send(loginPage());
  });

  router.post('/login', sameOrigin(), form, perIp, perName, (req, res, next) => {
    auth.authenticate('local', (err: unknown, user: Express.User | false) => {
      if (err) return next(err);
      if (!user) {
        res
          .status(401)
          .type('html')
          .send(loginPage({ error: 'Unknown name or wrong secret.', name: nameOf(req.body) }));
        return;
      }
      // passport 0.7 regenerates the session on login, so a pre-login session id cannot be fixed.
      req.logIn(user, (loginErr) => (loginErr ? next(loginErr) : res.redirect(303, `${BOARD_PATH}/`)));
    })(req, res, next);
  });

  router.get('/logout', (req, res) => {
    if (!req.user) return res.redirect(303, '/admin/login');
    res.type('html').send(logoutPage(req.user.name));
  });

  router.post('/logout', sameOrigin(), (req, res, next) => {
    req.logOut((err) => {
      if (err) return next(err);
      req.session.destroy(() => res.redirect(303, '/admin/login'));
    });
  });
  return router;
}
