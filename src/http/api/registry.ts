import { consoleRulesRoutes } from '../console/rules-api.js';
import { consoleRoutes } from '../console/routes.js';
import { slackRoutes } from '../slack/interactions.js';
import { alertRoutes } from './alert.js';
import { controlRoutes } from './control.js';
import { opsRoutes } from './ops.js';
import { providerRoutes } from './providers.js';
import { reportRoutes } from './reports.js';
import { rulesRoutes } from './rules-routes.js';
import { silenceRoutes } from './silence-routes.js';
import type { ApiRoute } from './route.js';
import { statusRoutes } from './status-route.js';

export interface RegistryOptions {
  /** CALLGUARD_METRICS_PUBLIC: GET /metrics needs no token. */
  metricsPublic?: boolean;
}

/** Every route of the JSON API and the console, declared once: mount.ts serves them, openapi.ts describes them. */
export function apiRoutes(opts: RegistryOptions = {}): ApiRoute[] {
  return [
    ...statusRoutes,
    ...controlRoutes,
    ...alertRoutes,
    ...reportRoutes,
    ...providerRoutes,
    ...rulesRoutes,
    ...silenceRoutes,
    ...opsRoutes({ metricsPublic: opts.metricsPublic === true }),
    ...consoleRoutes,
    ...consoleRulesRoutes,
    ...slackRoutes,
  ];
}
