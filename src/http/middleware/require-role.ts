import type { RequestHandler } from 'express';
import { allows, type Role } from '../../domain/roles.js';
import { AuthError, ForbiddenError, ValidationError } from '../../domain/errors.js';
import type { Authenticator } from '../auth/passport.js';

/** Bearer authentication for the API; sets req.user or answers 401 in the JSON error format. */
export function bearer(auth: Authenticator): RequestHandler {
  return (req, res, next) => {
    // passport-http-bearer also reads ?access_token=; tokens in URLs end up in access logs.
    if (req.query && 'access_token' in req.query) {
      return next(new ValidationError('access_token: send the token in the Authorization header, not the URL'));
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
