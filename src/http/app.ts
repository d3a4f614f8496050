import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { PrincipalDirectory, resolvePrincipals, type PrincipalEntry } from './auth/principals.js';
import { createSlackInteractionsRouter } from './slack/interactions.js';
import type { Callguard } from '../app/callguard.js';
import { boardAccess } from './board/board-access.js';
import { boards } from './board/board.js';
import { errorHandler, notFound } from './middleware/error-handler.js';
import { BOARD_PATH, loginRoutes } from './board/login.js';
import { createAuthenticator } from './auth/passport.js';
import { bearer } from './middleware/require-role.js';
import { alertRoutes } from './api/alert.js';
import { controlRoutes } from './api/control.js';
import { openApiRoutes } from './api/openapi-route.js';
import { opsRoutes } from './api/ops.js';
import { reportRoutes } from './api/reports.js';
import { statusRoutes } from './api/status-route.js';
import { sameOrigin } from './middleware/same-origin.js';
import { redisAvailable } from './middleware/redis-available.js';
import { sessions } from './board/session.js';

export interface AppOptions {
  /**
   * Extra routers, mounted before every callguard route. Nothing upstream reads the body, so they
   * receive the raw request stream (e.g. Slack interactions, whose signature covers the raw
   * bytes). Errors they pass to next() get callguard's JSON error format.
   */
  routers?: Array<{ path: string; router: RequestHandler }>;
  /** Principals to accept; default: CALLGUARD_USERS from cg.config (validated, may throw ConfigError). */
  principals?: PrincipalEntry[];
}

export interface CallguardApp {
  app: Express;
  principals: PrincipalDirectory;
  /** Set when CALLGUARD_USERS was empty: the generated admin, to print once at start-up. */
  generated?: PrincipalEntry;
}

/** The admin API, alert webhooks and Bull Board over one Callguard. Listens nowhere: see startHttpServer. */
export function createApp(cg: Callguard, opts: AppOptions = {}): CallguardApp {
  const { entries, generated } = opts.principals ? { entries: opts.principals, generated: undefined } : resolvePrincipals(cg.config.users);
  const principals = new PrincipalDirectory(entries);
  const auth = createAuthenticator(principals);
  const authenticate = bearer(auth);

  const app = express();
  app.set('trust proxy', cg.config.trustProxy);
  // callguard often runs on an internal plain-HTTP port; upgrade-insecure-requests would break the board's assets there.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  for (const { path, router } of opts.routers ?? []) app.use(path, router);
  // Reads its own raw body: Slack signs the exact bytes.
  app.use('/slack/interactions', createSlackInteractionsRouter(cg));

  // Every /health route needs Redis: answer 503 fast instead of hanging while it is away.
  app.use('/health', redisAvailable(cg.redisHealth));
  app.use(opsRoutes(cg, authenticate));
  app.use(openApiRoutes({ metricsPublic: cg.config.metricsPublic }));
  app.use(statusRoutes(cg, authenticate));
  app.use(controlRoutes(cg, authenticate));
  app.use(alertRoutes(cg, authenticate));
  app.use(reportRoutes(cg, authenticate));

  app.use('/admin', sessions(cg), auth.session(), loginRoutes(auth, { attempts: cg.config.loginAttempts }));
  app.use(BOARD_PATH, sameOrigin(), boardAccess(), boards(cg));

  app.use(notFound());
  app.use(errorHandler(cg.logger));
  return { app, principals, ...(generated ? { generated } : {}) };
}
