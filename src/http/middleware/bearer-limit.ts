import type { RequestHandler } from 'express';
import { ipKeyGenerator, type Options, type Store } from 'express-rate-limit';
import { AuthError } from '../../domain/errors.js';
import type { Logger } from '../../ops/logger.js';
import { TooManyRequestsError } from './errors.js';

export const BEARER_WINDOW_MS = 15 * 60_000;

/**
 * Bearer authentication that counts failures per client address: past 5 × CALLGUARD_LOGIN_ATTEMPTS
 * failures in 15 minutes, a failure is answered 429 with Retry-After instead of 401, counted in
 * the shared store so every instance agrees.
 *
 * The credential is checked first, so a valid one is never refused because of someone else's
 * failures (a noisy client behind the same proxy, a misconfigured scraper); that costs nothing on
 * the success path (no Redis call). Requests without credentials count in a bucket of their own,
 * so they never push a client that sends a token over the limit. Each failure is counted and
 * judged by one atomic increment (the store's script), so a burst of parallel bad tokens gets
 * exactly the limit's worth of 401s. Guessing is not what the limit stops — secrets are at least
 * 32 characters — it stops a client hammering the API from being answered as if it could succeed.
 */
export function limitedBearer(opts: { attempts: number; store: Store }, authenticate: RequestHandler): RequestHandler {
  const { store } = opts;
  const limit = opts.attempts * 5;
  const ready = Promise.resolve().then(() => store.init?.({ windowMs: BEARER_WINDOW_MS } as Options));
  // Handled: a failed init fails each counted request (503 through the error handler), not the process.
  ready.catch(() => undefined);

  const refuse = (resetTime: Date | undefined, res: Parameters<RequestHandler>[1]) => {
    const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : BEARER_WINDOW_MS / 1000;
    res.setHeader('Retry-After', String(seconds));
    res.removeHeader('WWW-Authenticate');
    return new TooManyRequestsError('Too many failed authentications from this address; try again later');
  };

  return (req, res, next) => {
    authenticate(req, res, (err?: unknown) => {
      if (!(err instanceof AuthError)) return next(err);
      const address = ipKeyGenerator(req.ip ?? '');
      const key = req.get('authorization') === undefined ? `anonymous:${address}` : address;
      ready.then(() => store.increment(key)).then((info) => next(info.totalHits > limit ? refuse(info.resetTime, res) : err), next);
    });
  };
}

/**
 * Warns once when a request carries X-Forwarded-For while CALLGUARD_TRUST_PROXY is off: every
 * client then shares the proxy's address, in the access log and in the failure counts.
 */
export function warnUntrustedForwarded(logger: Logger): RequestHandler {
  let warned = false;
  return (req, _res, next) => {
    if (!warned && req.get('x-forwarded-for') !== undefined) {
      warned = true;
      logger.warn(
        { remote: req.socket.remoteAddress },
        'requests carry X-Forwarded-For but CALLGUARD_TRUST_PROXY is off: every client behind that proxy shares its address; name the proxy hops or addresses (e.g. 1, or 10.0.0.0/8)',
      );
    }
    next();
  };
}
