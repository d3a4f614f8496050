import type { RequestHandler } from 'express';
import { ForbiddenError } from '../../domain/errors.js';

/** Methods that change nothing: no same-origin check, and what a read-only principal may send. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defence for cookie-authenticated routes, on top of SameSite=Strict: a state-changing
 * request must come from this site. Browsers send Origin on every non-GET fetch and form post;
 * Sec-Fetch-Site covers the few that omit it. A request with neither is refused.
 */
export function sameOrigin(): RequestHandler {
  return (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    // With helmet's Referrer-Policy: no-referrer, Chromium posts same-site forms with the opaque
    // "Origin: null"; it says nothing about the site, so Sec-Fetch-Site decides, as when absent.
    const sent = req.get('origin');
    const origin = sent === 'null' ? undefined : sent;
    if (origin !== undefined) {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        host = undefined;
      }
      // req.host is X-Forwarded-Host when trust proxy trusts the hop, else Host: a TLS proxy that
      // rewrites Host to the internal address still names the public one there.
      if (host !== undefined && host === req.host) return next();
      return next(new ForbiddenError('cross-origin request refused'));
    }
    if (req.get('sec-fetch-site') === 'same-origin') return next();
    return next(new ForbiddenError('state-changing requests to /admin need an Origin header from this site'));
  };
}
