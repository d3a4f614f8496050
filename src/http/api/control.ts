import type { z } from 'zod';
import type { Hold } from '../../domain/hold.js';
import { holdView } from './present.js';
import { route, zodBody, type RouteContext } from './route.js';
import { pauseBody, resumeBody } from './schemas.js';
import { pauseViewSchema, resumeViewSchema } from './views.js';

/** The answers of a pause and a resume, from the API (bearer) and the console (session) alike. */
export const pauseResponse = { description: 'The hold placed, and the queues it newly paused.', schema: pauseViewSchema };
export const resumeResponse = { description: 'The holds released, and the queues that resumed.', schema: resumeViewSchema };

/** One manual hold in the principal's name: POST /health/pause and the console's Pause. */
export async function pause({ deps, body, user }: RouteContext<z.output<typeof pauseBody>, undefined>) {
  const by = user!.name;
  const until = body.until === undefined ? undefined : Date.parse(body.until);
  const { hold, paused } = await deps.holds.pause({ by, reason: body.reason, queues: body.queues, providers: body.providers, until });
  return { status: 200 as const, json: { status: 'paused' as const, paused_by: by, hold: holdView(hold), newly_paused: paused } };
}

export function resumed(by: string, { released, resumed }: { released: Hold[]; resumed: string[] }) {
  return {
    status: 200 as const,
    json: { status: 'resumed' as const, resumed_by: by, released: released.map(holdView), newly_resumed: resumed },
  };
}

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
    responses: { 200: pauseResponse },
  }).handle(pause),
  route({
    method: 'post',
    path: '/health/resume',
    operationId: 'resume',
    tag: 'admin',
    summary: 'Release every hold covering some or all queues',
    description: 'An empty body releases every hold. Released rules’ windows restart.',
    access: { roles: ['admin'] },
    body: zodBody(resumeBody, { optional: true }),
    responses: { 200: resumeResponse },
  }).handle(async ({ deps, body, user }) => {
    const by = user!.name;
    return resumed(by, await deps.holds.resume({ by, queues: body.queues, reason: body.reason }));
  }),
];
