import type { RequestHandler } from 'express';
import { AuthError, ForbiddenError } from '../../domain/errors.js';
import { allows } from '../../domain/roles.js';
import { SAFE_METHODS } from '../middleware/same-origin.js';

/**
 * Gate in front of the Bull Board: signed-in viewers and admins only. Pages send the browser to
 * the login form; the board's JSON API answers 401/403. Viewers' writes are refused here as
 * well as by their read-only board.
 */
export function boardAccess(): RequestHandler {
  return (req, res, next) => {
    const user = req.user;
    if (!user) {
      if (req.path.startsWith('/api/')) return next(new AuthError('Sign in at /admin/login to use the Bull Board'));
      return res.redirect(302, '/admin/login');
    }
    if (!allows(['viewer'], user.role)) return next(new ForbiddenError(`role ${user.role} may not use the Bull Board`));
    if (!SAFE_METHODS.has(req.method) && !allows(['admin'], user.role)) return next(new ForbiddenError('viewers have a read-only board'));
    next();
  };
}
