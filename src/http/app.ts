import express, { type Express, type RequestHandler } from 'express';
import helmet from 'helmet';
import { PrincipalDirectory, resolvePrincipals, type PrincipalEntry } from './auth/principals.js';
import { slackSignature } from './middleware/slack-signature.js';
import { boardAccess } from './board/board-access.js';
import { boards } from './board/board.js';
import { errorHandler, notFound } from './middleware/error-handler.js';
import { BOARD_PATH, loginRoutes } from './board/login.js';
import { createAuthenticator } from './auth/passport.js';
import { bearer } from './middleware/require-role.js';
import { limitedBearer, warnUntrustedForwarded } from './middleware/bearer-limit.js';
import { mountRoutes } from './api/mount.js';
import { openApiDocument } from './api/openapi.js';
import type { HttpDeps } from './api/ports.js';
import { apiRoutes } from './api/registry.js';
import { sameOrigin } from './middleware/same-origin.js';
import { redisAvailable } from './middleware/redis-available.js';
import { accessLog } from './middleware/access-log.js';
import { sessions } from './board/session.js';

export interface AppOptions {
  /**
   * Extra routers, mounted before every callguard route. Nothing upstream reads the body, so they
   * receive the raw request stream (e.g. Slack interactions, whose signature covers the raw
   * bytes). Errors they pass to next() get callguard's JSON error format.
   */
  routers?: Array<{ path: string; router: RequestHandler }>;
  /** Principals to accept; default: CALLGUARD_USERS from the settings (validated, may throw ConfigError). */
  principals?: PrincipalEntry[];
}

export interface CallguardApp {
  app: Express;
  principals: PrincipalDirectory;
  /** Set when CALLGUARD_USERS was empty: the generated admin, to print once at start-up. */
  generated?: PrincipalEntry;
}

/**
 * The admin API, alert webhooks and Bull Board over callguard's ports (src/app/http-deps.ts builds
 * them from a Callguard). Listens nowhere: see startHttpServer.
 */
export function createApp(deps: HttpDeps, opts: AppOptions = {}): CallguardApp {
  const { settings } = deps;
  const { entries, generated } = opts.principals ? { entries: opts.principals, generated: undefined } : resolvePrincipals(settings.users);
  const principals = new PrincipalDirectory(entries);
  const auth = createAuthenticator(principals);
  const authenticate = limitedBearer({ attempts: settings.loginAttempts, store: deps.limitStore('bearer') }, bearer(auth, principals));

  const app = express();
  app.disable('x-powered-by');
  // No ETag hashed over every reply: routes that have a version give it (rules, console assets).
  app.set('etag', false);
  app.set('trust proxy', settings.trustProxy);
  if (settings.trustProxy === true) {
    deps.logger.warn(
      'CALLGUARD_TRUST_PROXY=true trusts every X-Forwarded-For hop: a client can pick its own address and step past the login and bearer limits. Name the proxy hops or addresses instead (e.g. 1, or 10.0.0.0/8)',
    );
  }
  if (!settings.trustProxy) app.use(warnUntrustedForwarded(deps.logger));
  app.use(accessLog(deps.logger));
  // callguard often runs on an internal plain-HTTP port; upgrade-insecure-requests would break the board's assets there.
  app.use(helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } }));
  for (const { path, router } of opts.routers ?? []) app.use(path, router);

  // Every /health route needs Redis: answer 503 fast instead of hanging while it is away.
  app.use('/health', redisAvailable(deps.redisHealth));
  const registry = { metricsPublic: settings.metricsPublic };
  const document = openApiDocument(registry);
  const routeDeps = {
    holds: deps.holds,
    ingest: deps.ingest,
    ops: deps.ops,
    rules: deps.rules,
    silences: deps.silences,
    replay: deps.replay,
    idempotency: deps.idempotency,
    console: deps.console,
    slack: deps.slack,
    logger: deps.logger,
    document: () => document,
  };
  const webhook = { secret: settings.webhookSecret, replay: deps.replay, grafanaUntimed: settings.grafanaUntimedSignatures };
  const session = [sessions(deps.sessions), auth.session()];
  app.use(
    ...mountRoutes(apiRoutes(registry), routeDeps, { authenticate, session, webhook, slack: slackSignature(deps.slack, deps.logger) }),
  );

  app.use('/admin', ...session, loginRoutes(auth, { attempts: settings.loginAttempts, store: (limiter) => deps.limitStore(limiter) }));
  app.use(BOARD_PATH, sameOrigin(), boardAccess(), boards(deps.board));

  app.use(notFound());
  app.use(errorHandler(deps.logger));
  return { app, principals, ...(generated ? { generated } : {}) };
}
