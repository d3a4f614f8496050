import type { Request, RequestHandler } from 'express';
import { allows, type Role } from '../../domain/roles.js';
import { AuthError, ForbiddenError, ValidationError } from '../../domain/errors.js';
import type { Authenticator } from '../auth/passport.js';
import type { PrincipalDirectory } from '../auth/principals.js';

/** The token of an `Authorization: Bearer <token>` header, read as passport-http-bearer reads it. */
function headerToken(req: Request): string | undefined {
  const parts = req.headers.authorization?.split(' ');
  return parts?.length === 2 && /^Bearer$/i.test(parts[0]!) ? parts[1] : undefined;
}

/**
 * Bearer authentication for the API; sets req.user or answers 401 in the JSON error format.
 * A valid header token is looked up directly (the same lookup passport's strategy makes): the
 * ingest routes take thousands of requests a second in a storm, and passport's per-request
 * machinery was a visible share of their cost (bench P7). Anything else — no token, a wrong one, a
 * token in the body — goes through passport as before, so failures keep its answers.
 */
export function bearer(auth: Authenticator, directory: PrincipalDirectory): RequestHandler {
  return (req, res, next) => {
    // passport-http-bearer also reads ?access_token=; tokens in URLs end up in access logs.
    if (req.query && 'access_token' in req.query) {
      return next(new ValidationError('access_token: send the token in the Authorization header, not the URL'));
    }
    const token = headerToken(req);
    const principal =
      token !== undefined && !(req.body as { access_token?: unknown } | undefined)?.access_token && directory.byToken(token);
    if (principal) {
      req.user = principal;
      return next();
    }
    auth.authenticate('bearer', { session: false }, (err: unknown, user: Express.User | false) => {
      if (err) return next(err);
      if (!user) {
        res.setHeader('WWW-Authenticate', 'Bearer realm="callguard"');
        return next(new AuthError('A valid bearer token is required (Authorization: Bearer <secret>)'));
      }
      req.user = user;
      next();
    })(req, res, next);
  };
}

/** 403 unless the authenticated principal has one of the roles; admin may do everything. */
export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    const user = req.user;
    if (!user) return next(new AuthError());
    if (!allows(roles, user.role)) {
      return next(new ForbiddenError(`role ${user.role} may not ${req.method} ${req.baseUrl}${req.path}`));
    }
    next();
  };
}
