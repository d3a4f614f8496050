import { Router, type RequestHandler } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import type { Callguard } from '../../app/callguard.js';
import { TooManyRequestsError } from './errors.js';
import { redisLimitStore } from './limit-store.js';

export const BEARER_WINDOW_MS = 15 * 60_000;

/**
 * Bearer authentication behind a limit on failures per client address: only requests answered
 * 401 count, so a working client is never slowed, while guessing tokens stops after
 * 5 × CALLGUARD_LOGIN_ATTEMPTS failures in 15 minutes (429 with Retry-After).
 */
export function limitedBearer(cg: Pick<Callguard, 'redis' | 'keys' | 'config'>, authenticate: RequestHandler): RequestHandler {
  const limiter = rateLimit({
    windowMs: BEARER_WINDOW_MS,
    limit: cg.config.loginAttempts * 5,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    keyGenerator: (req) => ipKeyGenerator(req.ip ?? ''),
    store: redisLimitStore(cg.redis, cg.keys, 'bearer'),
    handler: (_req, _res, next) => next(new TooManyRequestsError('Too many failed authentications from this address; try again later')),
  });
  return Router().use(limiter, authenticate);
}
