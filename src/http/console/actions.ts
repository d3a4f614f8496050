import { pause, pauseResponse, resumed, resumeResponse } from '../api/control.js';
import { route, zodBody } from '../api/route.js';
import { pauseBody } from '../api/schemas.js';
import { errorViewSchema } from '../api/views.js';
import { consoleResumeBody } from './schemas.js';

const refused = { description: 'Not an admin, or a cross-site request (Origin not this host).', schema: errorViewSchema };

/**
 * POST /admin/api/pause and /admin/api/resume: the session's admin, writes from this site only,
 * then the same control calls, bodies and answers as POST /health/pause and /health/resume.
 */
export const consoleActions = [
  route({
    method: 'post',
    path: '/admin/api/pause',
    operationId: 'consolePause',
    tag: 'console',
    summary: 'POST /health/pause for the signed-in admin (same body, answer and audit)',
    access: { session: ['admin'] },
    body: zodBody(pauseBody, { optional: true }),
    responses: { 200: pauseResponse, 403: refused },
  }).handle(pause),
  route({
    method: 'post',
    path: '/admin/api/resume',
    operationId: 'consoleResume',
    tag: 'console',
    summary: 'POST /health/resume for the signed-in admin; `holds` releases exactly those holds',
    access: { session: ['admin'] },
    body: zodBody(consoleResumeBody, { optional: true }),
    responses: {
      200: resumeResponse,
      403: refused,
      404: { description: 'A hold in `holds` is not held (already released?); nothing was released.', schema: errorViewSchema },
    },
  }).handle(async ({ deps, body, user }) => {
    const by = user!.name;
    const reason = body.reason || 'resumed from the console';
    return resumed(
      by,
      body.holds ? await deps.holds.release({ by, ids: body.holds, reason }) : await deps.holds.resume({ by, queues: body.queues, reason }),
    );
  }),
];
