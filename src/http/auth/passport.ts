import type { Handler } from 'express';
import passport from 'passport';
import { Strategy as BearerStrategy } from 'passport-http-bearer';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Principal, PrincipalDirectory } from './principals.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // req.user is always a principal: name and role, never the secret.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends Principal {}
  }
}

/** passport types authenticate() and session() as `any`; here they are the middleware they return. */
export type Authenticator = passport.Authenticator<Handler, Handler>;

/**
 * One authenticator per app (not passport's global), so two apps in one process, as in the
 * tests, never share principals. API clients use `bearer`; the Bull Board login uses `local`.
 */
export function createAuthenticator(directory: PrincipalDirectory): Authenticator {
  const auth = new passport.Passport() as Authenticator;
  auth.use('bearer', new BearerStrategy((token, done) => done(null, directory.byToken(token) ?? false)));
  auth.use(
    'local',
    new LocalStrategy({ usernameField: 'name', passwordField: 'secret', session: true }, (name, secret, done) =>
      done(null, directory.byCredentials(name, secret) ?? false),
    ),
  );
  auth.serializeUser((user, done) => done(null, { name: user.name, fp: directory.fingerprint(user.name) }));
  // Checked on every request: a principal removed from CALLGUARD_USERS, given another role or a new
  // secret loses its sessions (at the next restart of the instance that serves them). Sessions from
  // before fingerprints (a bare name) end too.
  auth.deserializeUser((stored: unknown, done) => {
    const s = stored as { name?: unknown; fp?: unknown } | null;
    const ok = typeof s === 'object' && s !== null && typeof s.name === 'string' && typeof s.fp === 'string';
    done(null, (ok && directory.bySession(s.name as string, s.fp as string)) || false);
  });
  return auth;
}
