import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import session from 'express-session';
import type { SessionDeps } from '../api/ports.js';
import { createSessionStore } from './session-store.js';

export const SESSION_COOKIE = 'callguard.sid';
const SESSION_TTL_SECONDS = 8 * 60 * 60;

/**
 * Browser sessions for the Bull Board, stored in Redis under callguard's prefix. The cookie is
 * httpOnly, SameSite=Strict (no cross-site request carries it), scoped to /admin, and Secure
 * whenever the request arrived over HTTPS (set CALLGUARD_TRUST_PROXY behind a TLS proxy).
 */
export function sessions(deps: SessionDeps): RequestHandler {
  return session({
    name: SESSION_COOKIE,
    // Without a configured secret, sessions simply end when the process restarts.
    secret: deps.secret ?? randomBytes(32).toString('base64url'),
    store: createSessionStore(deps.redis, deps.prefix, SESSION_TTL_SECONDS),
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'strict', secure: 'auto', path: '/admin', maxAge: SESSION_TTL_SECONDS * 1000 },
  });
}
