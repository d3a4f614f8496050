import type { RequestHandler } from 'express';
import { RedisUnavailableError } from '../../domain/errors.js';
import { ANSWERED_EARLY, sendError } from './error-handler.js';

// The answer comes within a second; the report enqueue gives up (and cancels) before this.
const DEADLINE_MS = 900;
const RECHECK_MS = 50;

/**
 * For routes that need Redis: answers 503 redis_unavailable at once while Redis is known to be
 * away, and within about a second when it goes away mid-request, instead of letting the request
 * wait on commands queued behind a hung connection. A slow request on a healthy Redis is left alone.
 */
export function redisAvailable(health: { available(): boolean }): RequestHandler {
  return (_req, res, next) => {
    if (!health.available()) return next(new RedisUnavailableError());
    let timer: NodeJS.Timeout | undefined;
    const check = () => {
      if (res.headersSent) return;
      if (health.available()) {
        timer = setTimeout(check, RECHECK_MS);
        return;
      }
      res.locals[ANSWERED_EARLY] = true;
      sendError(res, new RedisUnavailableError());
    };
    timer = setTimeout(check, DEADLINE_MS);
    res.once('close', () => clearTimeout(timer));
    next();
  };
}
