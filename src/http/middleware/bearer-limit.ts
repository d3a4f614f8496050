import { Router, type RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit, type Store } from 'express-rate-limit';
import { TooManyRequestsError } from './errors.js';

export const BEARER_WINDOW_MS = 15 * 60_000;

/**
 * Bearer authentication behind a limit on failures per client address: only requests answered
 * 401 count, so a working client is never slowed, while guessing tokens stops after
 * 5 × CALLGUARD_LOGIN_ATTEMPTS failures in 15 minutes (429 with Retry-After).
 */
export function limitedBearer(opts: { attempts: number; store: Store }, authenticate: RequestHandler): RequestHandler {
  const limiter = rateLimit({
    windowMs: BEARER_WINDOW_MS,
    limit: opts.attempts * 5,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
    store: opts.store,
    handler: (_req, _res, next) => next(new TooManyRequestsError('Too many failed authentications from this address; try again later')),
  });
  return Router().use(limiter, authenticate);
}
