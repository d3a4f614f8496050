import type { ApiRoute } from '../api/route.js';
import { rulesRoutes } from '../api/rules-routes.js';
import { silenceRoutes } from '../api/silence-routes.js';

/**
 * The rules and silences routes again under /admin/api, for the console's session (its cookie is
 * scoped to /admin): the same declarations, handlers, bodies and answers as /health/rules… and
 * /health/silences…, with the same roles; writes only from this site.
 */
export const consoleRulesRoutes: ApiRoute[] = [...rulesRoutes, ...silenceRoutes].map((r) => {
  if (typeof r.access !== 'object' || !('roles' in r.access)) throw new Error(`${r.operationId}: not a bearer route`);
  return {
    ...r,
    path: r.path.replace(/^\/health\//, '/admin/api/'),
    operationId: `console${r.operationId[0]!.toUpperCase()}${r.operationId.slice(1)}`,
    tag: 'console',
    summary: `${r.summary} (console: ${r.method.toUpperCase()} ${r.path} for the signed-in principal)`,
    access: { session: r.access.roles },
  };
});
