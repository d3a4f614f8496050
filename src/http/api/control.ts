import { holdView } from './present.js';
import { route, zodBody } from './route.js';
import { pauseBody, resumeBody } from './schemas.js';
import { pauseViewSchema, resumeViewSchema } from './views.js';

/** POST /health/pause and /health/resume (admin). The actor is always the authenticated principal. */
export const controlRoutes = [
  route({
    method: 'post',
    path: '/health/pause',
    operationId: 'pause',
    tag: 'admin',
    summary: 'Place one manual hold',
    description: 'An empty body pauses every dispatch queue.',
    access: { roles: ['admin'] },
    body: zodBody(pauseBody, { optional: true }),
    responses: { 200: { description: 'The hold placed, and the queues it newly paused.', schema: pauseViewSchema } },
  }).handle(async ({ deps, body, user }) => {
    const by = user!.name;
    const until = body.until === undefined ? undefined : Date.parse(body.until);
    const { hold, paused } = await deps.holds.pause({ by, reason: body.reason, queues: body.queues, providers: body.providers, until });
    return { status: 200, json: { status: 'paused', paused_by: by, hold: holdView(hold), newly_paused: paused } };
  }),
  route({
    method: 'post',
    path: '/health/resume',
    operationId: 'resume',
    tag: 'admin',
    summary: 'Release every hold covering some or all queues',
    description: 'An empty body releases every hold. Released rules’ windows restart.',
    access: { roles: ['admin'] },
    body: zodBody(resumeBody, { optional: true }),
    responses: { 200: { description: 'The holds released, and the queues that resumed.', schema: resumeViewSchema } },
  }).handle(async ({ deps, body, user }) => {
    const by = user!.name;
    const { released, resumed } = await deps.holds.resume({ by, queues: body.queues, reason: body.reason });
    return { status: 200, json: { status: 'resumed', resumed_by: by, released: released.map(holdView), newly_resumed: resumed } };
  }),
];
