import type { RequestHandler } from 'express';
import { ipKeyGenerator, type Options, type Store } from 'express-rate-limit';
import { AuthError } from '../../domain/errors.js';
import { TooManyRequestsError } from './errors.js';

export const BEARER_WINDOW_MS = 15 * 60_000;

// An address with no failure on record is taken as clean for this long without asking Redis again.
const CLEAN_MS = 1000;
const CLEAN_MAX = 10_000;

/**
 * Bearer authentication behind a limit on failures per client address: only requests answered
 * 401 count, so a working client is never slowed, while guessing tokens stops after
 * 5 × CALLGUARD_LOGIN_ATTEMPTS failures in 15 minutes (429 with Retry-After), counted in the
 * shared store so every instance refuses the address, even with a valid token.
 *
 * express-rate-limit counted every request and took the count back on success: two Redis calls on
 * every API request (the profile of POST /health/errors put them at ~15 % of its time). Here a
 * success costs one read, and none for an address with no failures on record in the last second.
 * That second is the price: an address limited through another instance may try one more token
 * here before this instance knows (its failure is counted, and then it knows).
 */
export function limitedBearer(opts: { attempts: number; store: Store }, authenticate: RequestHandler): RequestHandler {
  const { store } = opts;
  const limit = opts.attempts * 5;
  if (!store.get) throw new Error('bearer limit: the store must be able to read a count');
  const ready = Promise.resolve(store.init?.({ windowMs: BEARER_WINDOW_MS } as Options));
  const clean = new Map<string, number>();
  // Requests from one address that arrive together share one read.
  const reading = new Map<string, Promise<Awaited<ReturnType<NonNullable<Store['get']>>>>>();
  const read = (key: string) => {
    let r = reading.get(key);
    if (!r) {
      r = Promise.resolve(store.get!(key)).finally(() => reading.delete(key));
      reading.set(key, r);
    }
    return r;
  };

  const refuse = (resetTime: Date | undefined, res: Parameters<RequestHandler>[1]) => {
    const seconds = resetTime ? Math.max(1, Math.ceil((resetTime.getTime() - Date.now()) / 1000)) : BEARER_WINDOW_MS / 1000;
    res.setHeader('Retry-After', String(seconds));
    res.removeHeader('WWW-Authenticate');
    return new TooManyRequestsError('Too many failed authentications from this address; try again later');
  };

  return (req, res, next) => {
    const key = ipKeyGenerator(req.ip ?? '');
    void (async () => {
      await ready;
      if ((clean.get(key) ?? 0) < Date.now()) {
        const info = await read(key);
        if (info && info.totalHits >= limit) return next(refuse(info.resetTime, res));
        if (info && info.totalHits > 0) clean.delete(key);
        else {
          if (clean.size >= CLEAN_MAX) clean.clear();
          clean.set(key, Date.now() + CLEAN_MS);
        }
      }
      authenticate(req, res, (err?: unknown) => {
        if (!(err instanceof AuthError)) return next(err);
        clean.delete(key);
        void Promise.resolve(store.increment(key)).then((info) => next(info.totalHits > limit ? refuse(info.resetTime, res) : err), next);
      });
    })().catch(next);
  };
}
