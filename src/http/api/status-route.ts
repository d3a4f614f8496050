import { auditEntryView } from './present.js';
import { route } from './route.js';
import { auditQuery } from './schemas.js';
import { serviceStatusJson } from './status.js';
import { auditViewSchema, serviceStatusViewSchema } from './views.js';

/** Read-only routes (viewer and admin). */
export const statusRoutes = [
  route({
    method: 'get',
    path: '/health/service',
    operationId: 'getServiceStatus',
    tag: 'admin',
    summary: 'Holds, rule counts and queue states',
    access: { roles: ['viewer'] },
    responses: { 200: { description: 'Status.', schema: serviceStatusViewSchema } },
    // Sent as text (mount.ts sends a text reply as it is): the view is serialized once per snapshot,
    // not once per request (bench P6). Its shape is serviceStatusViewSchema's, as declared above.
  }).handle(async ({ deps }) => ({ status: 200, media: 'application/json', text: serviceStatusJson(await deps.holds.status()) }) as never),
  route({
    method: 'get',
    path: '/health/audit',
    operationId: 'getAudit',
    tag: 'admin',
    summary: 'Hold changes, newest first',
    access: { roles: ['viewer'] },
    query: auditQuery,
    responses: { 200: { description: 'Audit entries.', schema: auditViewSchema } },
  }).handle(async ({ deps, query }) => ({ status: 200, json: { entries: (await deps.holds.audit(query.limit)).map(auditEntryView) } })),
];
